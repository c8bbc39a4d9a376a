import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { cli } from '../../src/cli/entry.js';
import { tempDir } from './helpers/tree.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const taskFile = join(root, 'examples/pgtasks.tasks.ts');
const inventory = join(root, 'test/fixtures/cli/local.yml');

async function call(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await cli(argv, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), isTTY: false, cwd: root, env: {} });
  return { code, stdout, stderr };
}

describe('a team task file (examples/pgtasks.tasks.ts, TypeScript, imports from "pgtasks")', () => {
  test('its tasks are listed beside the built-ins', async () => {
    const r = await call(['--tasks', taskFile, '--list']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/uptime\s+Show every host's uptime/);
    expect(r.stdout).toMatch(/configure-cluster/);
  });

  test('its tasks run, with flags from their schema, --check and the recap', async () => {
    const dir = tempDir('pgtasks-team-');
    const path = join(dir, 'motd');
    const check = await call(['--tasks', taskFile, '-i', inventory, '--check', 'motd', '--text', 'hello', '--path', path]);
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(/would change: \[here\] motd/);
    expect(() => readFileSync(path)).toThrow();

    const r = await call(['--tasks', taskFile, '-i', inventory, 'motd', '--text', 'hello', '--path', path, 'uptime']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readFileSync(path, 'utf8')).toBe('hello\n');
    expect(r.stdout).toMatch(/TASK \[motd\][\s\S]*changed: \[here\] motd[\s\S]*TASK \[uptime\][\s\S]*\[here\] up \d+ min, load/);
    expect(r.stdout).toMatch(/here : ok=0 {2}changed=1/);

    const again = await call(['--tasks', taskFile, '-i', inventory, 'motd', '--text', 'hello', '--path', path]);
    expect(again.stdout).toMatch(/ok: \[here\] motd/);
  });

  test('a required flag that is missing is a usage error', async () => {
    const r = await call(['--tasks', taskFile, '-i', inventory, 'motd']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--text/);
  });
});
