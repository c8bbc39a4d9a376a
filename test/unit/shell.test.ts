import { execFileSync } from 'node:child_process';
import { describe, expect, test } from 'vitest';
import { asUser, quote, sh } from '../../src/connection/shell.js';

describe('shell quoting', () => {
  test.each(["plain", "with space", "it's", "$HOME", "`id`", "a\nb", "", "-n", "*"])('%j survives sh -c', (value) => {
    expect(execFileSync('sh', ['-c', `printf %s ${quote(value)}`], { encoding: 'utf8' })).toBe(value);
  });
  test('sh`` quotes every interpolation, arrays as separate words', () => {
    expect(sh`ls ${'a b'} ${['x', "y'z"]}`).toBe(`ls 'a b' x 'y'\\''z'`);
  });
  test('running as another user', () => {
    expect(asUser('id', 'root', 'root')).toBe('id');
    expect(asUser('id -un', 'postgres', 'root')).toBe(`runuser -u postgres -- sh -c 'cd / && id -un'`);
    expect(asUser('id', 'postgres', 'deploy')).toBe(`sudo -n -H -u postgres -- sh -c 'cd / && id'`);
  });
});
