import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { InventoryError, loadInventory, toAnsibleList } from '../../src/inventory/index.js';
import { ansibleEnv, CORPUS, fixtures } from './inventory-corpus.js';

const hasAnsible = (() => {
  try {
    execFileSync('ansible-inventory', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const run = promisify(execFile);

async function ansibleList(path: string): Promise<unknown> {
  // cwd: no ansible.cfg there to change the defaults.
  return JSON.parse((await run('ansible-inventory', ['-i', path, '--list'], { encoding: 'utf8', cwd: fixtures, env: ansibleEnv })).stdout);
}

// Concurrent: each ansible-inventory takes half a second to start.
describe.concurrent('toAnsibleList equals ansible-inventory --list', () => {
  test.skipIf(!hasAnsible).each(CORPUS)('%s: %s', async (name) => {
    expect(toAnsibleList(await loadInventory(fixtures + name))).toEqual(await ansibleList(fixtures + name));
  });
});

/** ansible-inventory's reason for refusing a file (its warnings are wrapped at 80 columns: joined again). */
const REFUSED: [text: string, line: number, message: string][] = [
  ['all:\n  hosts:\n    h1:\n    0x10:\n', 4, 'Host pattern 16 must be a string. Enclose integers/floats in quotation marks.'],
  ['all:\n  hosts:\n    yes:\n', 3, 'Host pattern True must be a string. Enclose integers/floats in quotation marks.'],
  ['all:\n  hosts:\n    ~:\n', 3, 'Host pattern None must be a string. Enclose integers/floats in quotation marks.'],
  ['all:\n  hosts:\n    1_000:\n', 3, 'Host pattern 1000 must be a string. Enclose integers/floats in quotation marks.'],
  ['all:\n  hosts:\n    .5:\n', 3, 'Host pattern 0.5 must be a string. Enclose integers/floats in quotation marks.'],
  ['all:\n  hosts:\n    1.0e+16:\n', 3, 'Host pattern 1e+16 must be a string. Enclose integers/floats in quotation marks.'],
  ['all:\n  hosts:\n    .NaN:\n', 3, 'Host pattern nan must be a string. Enclose integers/floats in quotation marks.'],
  ['all:\n  hosts:\n    190:20:30:\n', 3, 'Host pattern 685230 must be a string. Enclose integers/floats in quotation marks.'],
  [
    'all:\n  hosts:\n    2001-12-14 21:59:43.10 -5:\n',
    3,
    'Host pattern 2001-12-14 21:59:43.100000-05:00 must be a string. Enclose integers/floats in quotation marks.',
  ],
  ['all:\n  hosts:\n    "":\n', 3, 'Invalid empty host name provided: '],
  ['db:\n  hosts:\n    a:\n10:\n', 4, "Unable to add group 10: Invalid group name supplied, expected a string but got <class 'int'> for 10"],
  ['all:\n  children:\n    on:\n', 3, "Unable to add group True: Invalid group name supplied, expected a string but got <class 'bool'> for True"],
  [
    'all:\n  children:\n    2024-01-02:\n',
    3,
    "Unable to add group 2024-01-02: Invalid group name supplied, expected a string but got <class 'datetime.date'> for 2024-01-02",
  ],
  ['0:\n', 1, 'Unable to add group 0: Invalid empty/false group name provided: 0'],
  ['all:\n  children:\n    Null:\n', 3, 'Unable to add group None: Invalid empty/false group name provided: None'],
];

describe('keys that are not strings: refused with the message ansible-inventory gives, at file:line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgtasks-keys-'));
  const files = REFUSED.map(([text], i) => {
    const file = join(dir, `k${i}.yml`);
    writeFileSync(file, text);
    return file;
  });
  /** Every file's refusal from one ansible-inventory run (one -i each): its warnings, joined again (they wrap at 80 columns). */
  let refusals = new Map<string, string>();
  beforeAll(async () => {
    if (!hasAnsible) return;
    const args = files.flatMap((f) => ['-i', f, '--list']).filter((a, i, all) => a !== '--list' || i === all.length - 1);
    const stderr = await run('ansible-inventory', args, { encoding: 'utf8', env: { ...process.env, ANSIBLE_INVENTORY_ENABLED: 'yaml' } }).then(
      (r) => r.stderr,
      (err: { stderr: string }) => err.stderr,
    );
    refusals = new Map(
      stderr
        .replace(/\s+/g, ' ')
        .split('[WARNING]:')
        .map((w) => /Failed to parse (\S+) with yaml plugin: (.*)$/.exec(w.trim()))
        .filter((m) => m !== null)
        .map((m) => [m[1]!, m[2]!]),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test.skipIf(!hasAnsible).each(REFUSED.map((r, i) => [...r, i] as const))('%j', async (_text, line, message, i) => {
    const err = await loadInventory(files[i]!).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InventoryError);
    expect((err as Error).message).toBe(`${files[i]}:${line}: ${message}`);
    expect(refusals.get(files[i]!)).toBe(message.trim());
  });
});
