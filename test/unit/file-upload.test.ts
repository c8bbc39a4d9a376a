import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { UPLOAD_END, uploadFilesCommand } from '../../src/connection/file-upload.js';
import { LocalConnection } from '../../src/connection/local.js';
import type { Command } from '../../src/connection/shell.js';
import type { RunOptions } from '../../src/connection/types.js';
import { HostContext } from '../../src/engine/host-context.js';
import { Secrets } from '../../src/engine/secrets.js';

/** A local connection that counts the commands it runs (the round trips a remote host would see). */
class CountingConnection extends LocalConnection {
  commands: string[] = [];
  override run(command: Command, options?: RunOptions) {
    this.commands.push(command);
    return super.run(command, options);
  }
}

function context() {
  const connection = new CountingConnection('local');
  const ctx = new HostContext('local', {}, connection, { emit: () => {} }, { check: false, diff: false, verbose: false }, new Secrets());
  return { ctx, connection };
}

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

describe('putFiles: a folder of files in one command, each replaced atomically', () => {
  test('files of one folder go in one command with their own modes; another folder gets its own; bytes arrive exactly', async () => {
    const a = mkdtempSync(join(tmpdir(), 'pgtasks-upload-'));
    const b = mkdtempSync(join(tmpdir(), 'pgtasks-upload-'));
    writeFileSync(join(a, 'old.conf'), 'the previous content, longer than the new one\n');
    const binary = Buffer.from([0, 255, 10, 13, 0, 64, 64, 10]);
    const { ctx, connection } = context();
    await ctx.putFiles([
      { path: join(a, 'old.conf'), content: 'new\n', options: { mode: '0640' } },
      { path: join(a, 'empty'), content: '', options: { mode: '0644' } },
      { path: join(a, 'key'), content: binary, options: { mode: '0600' } },
      { path: join(b, 'only.conf'), content: 'ümlaut ✓\n@@pgtasks-upload-end\n', options: { mode: '0644' } },
      { path: join(a, 'last'), content: `${'x'.repeat(70_000)}\n`, options: { mode: '0644' } },
    ]);
    // One command for a's four files, the single upload for b's one.
    expect(connection.commands).toHaveLength(2);
    expect(readFileSync(join(a, 'old.conf'), 'utf8')).toBe('new\n');
    expect(readFileSync(join(a, 'empty'), 'utf8')).toBe('');
    expect(readFileSync(join(a, 'key')).equals(binary)).toBe(true);
    expect(readFileSync(join(b, 'only.conf'), 'utf8')).toBe('ümlaut ✓\n@@pgtasks-upload-end\n');
    expect(readFileSync(join(a, 'last'), 'utf8')).toHaveLength(70_001);
    expect([mode(join(a, 'old.conf')), mode(join(a, 'empty')), mode(join(a, 'key'))]).toEqual(['640', '644', '600']);
    // No temp folder left behind.
    expect(readdirSync(a).sort()).toEqual(['empty', 'key', 'last', 'old.conf']);
  });

  test('a stream cut short (no end mark, or bytes missing) replaces nothing and leaves no temp folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgtasks-upload-'));
    writeFileSync(join(dir, 'one'), 'kept 1\n');
    writeFileSync(join(dir, 'two'), 'kept 2\n');
    const command = uploadFilesCommand([
      { path: join(dir, 'one'), bytes: 4 },
      { path: join(dir, 'two'), bytes: 4 },
    ]);
    const connection = new LocalConnection('local');
    for (const stdin of ['new1new2', 'new1ne', `new1new2x${UPLOAD_END}`]) {
      const r = await connection.run(command, { stdin });
      expect(r.code, stdin).not.toBe(0);
      expect(r.stderr).toMatch(/the upload ended early: no file was replaced/);
      expect(readFileSync(join(dir, 'one'), 'utf8')).toBe('kept 1\n');
      expect(readFileSync(join(dir, 'two'), 'utf8')).toBe('kept 2\n');
      expect(readdirSync(dir).sort()).toEqual(['one', 'two']);
    }
    const r = await connection.run(command, { stdin: `new1new2${UPLOAD_END}` });
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, 'two'), 'utf8')).toBe('new2');
  });

  test('paths reach the shell quoted, and files of two folders cannot share one command', () => {
    const command = uploadFilesCommand([
      { path: "/etc/x y/it's.conf", bytes: 1, options: { owner: 'postgres', group: 'postgres', mode: '0640' } },
      { path: '/etc/x y/$(reboot)', bytes: 1 },
    ]);
    expect(command).toContain("mv -f 0 '/etc/x y/it'\\''s.conf'");
    expect(command).toContain("mv -f 1 '/etc/x y/$(reboot)'");
    expect(command).toContain('chown postgres:postgres 0\n');
    expect(() =>
      uploadFilesCommand([
        { path: '/a/one', bytes: 1 },
        { path: '/b/two', bytes: 1 },
      ]),
    ).toThrow(/share one folder/);
    expect(() =>
      uploadFilesCommand([
        { path: 'etc/one', bytes: 1 },
        { path: 'etc/two', bytes: 1 },
      ]),
    ).toThrow(/not an absolute path/);
  });
});
