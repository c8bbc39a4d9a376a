import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ansibleEnv, CORPUS, fixtures } from './inventory-corpus.js';

// The built program, as a user runs it, through real pipes into jq.
const root = fileURLToPath(new URL('../../', import.meta.url));
const entry = join(root, 'dist/src/cli/entry.js');

function newestSource(dir: string): number {
  return Math.max(
    0,
    ...readdirSync(dir, { withFileTypes: true }).map((d) =>
      d.isDirectory() ? newestSource(join(dir, d.name)) : d.name.endsWith('.ts') ? statSync(join(dir, d.name)).mtimeMs : 0,
    ),
  );
}

/** Builds dist/ when a source is newer than it (tsc's exit code is ignored: another file mid-edit must not stop this test). */
function ensureBuilt(): void {
  const built = existsSync(entry) ? statSync(entry).mtimeMs : 0;
  if (built >= Math.max(newestSource(join(root, 'src')), newestSource(join(root, 'tasks')))) return;
  spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'ignore' });
  if (!existsSync(entry)) throw new Error('npx tsc -p tsconfig.json did not build dist/src/cli/entry.js');
}

const hasAnsible = spawnSync('ansible-inventory', ['--version'], { stdio: 'ignore' }).status === 0;

/** `bash -c script`: stdout, stderr and each stage's exit status (PIPESTATUS). Async, so the comparisons run side by side. */
function sh(script: string, ...args: string[]): Promise<{ stdout: string; stderr: string; status: number[] }> {
  return new Promise((done, failed) => {
    const child = spawn('bash', ['-c', `${script}; echo "\${PIPESTATUS[*]}" >&3`, 'sh', ...args], {
      cwd: root,
      env: { ...ansibleEnv, PGTASKS_INVENTORY: '' },
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
    const out = ['', '', '', ''];
    for (const fd of [1, 2, 3]) child.stdio[fd]!.on('data', (d: Buffer) => void (out[fd] += d.toString()));
    child.on('error', failed);
    child.on('close', () => done({ stdout: out[1]!, stderr: out[2]!, status: out[3]!.trim().split(' ').map(Number) }));
  });
}

let bad: string;
beforeAll(() => {
  // jq is in scripts/setup.sh's packages: missing, it is a setup problem to fix, not a test to skip.
  if (spawnSync('jq', ['--version'], { stdio: 'ignore' }).status !== 0)
    throw new Error('jq is not installed: run bash scripts/setup.sh (or apt-get install jq)');
  ensureBuilt();
  bad = mkdtempSync(join(tmpdir(), 'pgtasks-pipe-'));
  writeFileSync(join(bad, 'bad.yml'), 'all:\n  hosts:\n    h1:\n    0x10:\n');
}, 180_000);
afterAll(() => rmSync(bad, { recursive: true, force: true }));

describe.concurrent('pgtasks inventory --list | jq: only JSON on stdout, the same as ansible-inventory --list | jq', () => {
  test.skipIf(!hasAnsible).each(CORPUS)('%s', async (name) => {
    const [ours, theirs] = await Promise.all([
      sh('node bin/pgtasks.js -i "$1" inventory --list | jq -S .', fixtures + name),
      sh('ansible-inventory -i "$1" --list | jq -S .', fixtures + name),
    ]);
    expect(ours.status).toEqual([0, 0]);
    expect(theirs.status).toEqual([0, 0]);
    expect(ours.stdout).toBe(theirs.stdout);
    // Piped, the TASK header is left out, as ansible-inventory prints none.
    expect(ours.stderr).toBe('');
  });

  test.skipIf(!hasAnsible)('--json: one event per line; the result event holds the same inventory', async () => {
    const name = fixtures + 'yaml11.yml';
    const [ours, theirs, types] = await Promise.all([
      sh('node bin/pgtasks.js --json -i "$1" inventory --list | jq -S -c \'select(.type == "result") | .data\'', name),
      sh('ansible-inventory -i "$1" --list | jq -S -c .', name),
      sh('node bin/pgtasks.js --json -i "$1" inventory --list | jq -r .type', name),
    ]);
    expect(ours.status).toEqual([0, 0]);
    expect(ours.stdout).toBe(theirs.stdout);
    expect(types.stdout).toBe('task\nresult\n');
  });

  test('--json: an error is an event on stdout too, and the exit status is still 2', async () => {
    const r = await sh('node bin/pgtasks.js --json -i "$1" inventory --list | jq -r \'select(.type == "error") | .message\'', join(bad, 'bad.yml'));
    expect(r.status).toEqual([2, 0]);
    expect(r.stdout).toBe(`${join(bad, 'bad.yml')}:4: Host pattern 16 must be a string. Enclose integers/floats in quotation marks.\n`);
  });

  test('without --json: nothing on stdout, the error on stderr, exit 2', async () => {
    const r = await sh('node bin/pgtasks.js -i "$1" inventory --list | jq .', join(bad, 'bad.yml'));
    expect(r.status).toEqual([2, 0]);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`pgtasks: ${join(bad, 'bad.yml')}:4: Host pattern 16 must be a string. Enclose integers/floats in quotation marks.\n`);
  });

  test.skipIf(!hasAnsible)("the text is ansible-inventory's own layout: sorted keys, 4 spaces", async () => {
    const name = fixtures + 'nested.yml';
    const ours = await sh('node bin/pgtasks.js -i "$1" inventory --list 2>/dev/null | cat', name);
    expect(ours.stdout).toBe(execFileSync('ansible-inventory', ['-i', name, '--list'], { encoding: 'utf8', env: ansibleEnv }));
  });
});
