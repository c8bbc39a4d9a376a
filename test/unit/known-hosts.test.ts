import { createHmac } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { keyTypeOf, knownHostsName, verifyHostKey } from '../../src/connection/known-hosts.js';

function blob(type: string, body: string): Buffer {
  const t = Buffer.from(type);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(t.length);
  return Buffer.concat([len, t, Buffer.from(body)]);
}

const key = blob('ssh-ed25519', 'key-one');
const other = blob('ssh-ed25519', 'key-two');
const line = (name: string, k: Buffer) => `${name} ssh-ed25519 ${k.toString('base64')}\n`;

describe('host key verification', () => {
  test('strict accepts a known key and refuses an unknown host', () => {
    expect(verifyHostKey(line('10.0.0.1', key), '10.0.0.1', key, 'strict')).toEqual({ ok: true });
    const v = verifyHostKey('', '10.0.0.1', key, 'strict');
    expect(v.ok).toBe(false);
    expect(!v.ok && v.reason).toMatch(/no host key for 10.0.0.1/);
  });

  test('a changed key is refused even in accept-new mode', () => {
    const v = verifyHostKey(line('h1', key), 'h1', other, 'accept-new');
    expect(v.ok).toBe(false);
    expect(!v.ok && v.reason).toMatch(/CHANGED/);
  });

  test('accept-new learns an unknown host', () => {
    const v = verifyHostKey('', 'h1', key, 'accept-new');
    expect(v).toEqual({ ok: true, learned: line('h1', key) });
  });

  test('off accepts anything', () => {
    expect(verifyHostKey(line('h1', key), 'h1', other, 'off').ok).toBe(true);
  });

  test('comma lists, non-default ports and hashed names match', () => {
    expect(verifyHostKey(line('a,10.0.0.2', key), '10.0.0.2', key, 'strict').ok).toBe(true);
    expect(knownHostsName('h1', 2222)).toBe('[h1]:2222');
    expect(verifyHostKey(line('[h1]:2222', key), '[h1]:2222', key, 'strict').ok).toBe(true);
    expect(verifyHostKey(line('h1', key), '[h1]:2222', key, 'strict').ok).toBe(false);
    const salt = Buffer.from('0123456789abcdefghij');
    const hashed = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update('db1').digest('base64')}`;
    expect(verifyHostKey(line(hashed, key), 'db1', key, 'strict').ok).toBe(true);
    expect(verifyHostKey(line(hashed, key), 'db2', key, 'strict').ok).toBe(false);
  });

  test('key type is read from the wire format', () => {
    expect(keyTypeOf(key)).toBe('ssh-ed25519');
  });
});
