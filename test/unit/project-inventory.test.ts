import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { cli } from '../../src/cli/entry.js';
import { UnreachableError } from '../../src/connection/types.js';
import { clustersOf } from '../../src/cluster/vars.js';
import { loadInventory } from '../../src/inventory/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

async function callInRoot(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const connections: string[] = [];
  const code = await cli(argv, {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    isTTY: false,
    cwd: root,
    env: {},
    connector: async (host) => {
      connections.push(host);
      throw new UnreachableError(host, 'no lab in unit tests');
    },
  });
  return { code, stdout, stderr, connections };
}

describe("the project folder's inventory/ (the default -i) holds one inventory", () => {
  test('pgtasks inventory --list without -i loads it: the lab hosts only', async () => {
    const r = await callInRoot(['inventory', '--list']);
    expect(r.stderr).not.toMatch(/pgtasks:/); // no error (a TASK banner may go to stderr)
    expect(r.code).toBe(0);
    const hosts = Object.keys((JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as { _meta: { hostvars: object } })._meta.hostvars);
    expect(hosts).toEqual(['h1', 'h2', 'h3']);
  });

  test('pgtasks configure-cluster without -i gets past the inventory: it reaches for the lab hosts (unreachable here: exit 4)', async () => {
    const r = await callInRoot(['configure-cluster', '--check']);
    expect(r.stderr).not.toMatch(/pg_|inventory/);
    expect(r.code).toBe(4);
    expect([...new Set(r.connections)].sort()).toEqual(['h1', 'h2', 'h3']);
  });

  test('its passwords are kept outside inventory/, where they would be read as inventory files', async () => {
    for (const spec of clustersOf(await loadInventory(join(root, 'inventory')))) {
      expect(relative(join(root, 'inventory'), spec.credentialsDir)).toMatch(/^\.\.\//);
    }
  });

  test('every example inventory loads on its own', async () => {
    const dir = join(root, 'examples/inventories');
    const files = readdirSync(dir).filter((f) => f.endsWith('.yml'));
    expect(files).toContain('vagrant.yml');
    for (const f of files) expect(clustersOf(await loadInventory(join(dir, f))).length).toBeGreaterThan(0);
  });

  test('every inventory path the README, the scripts, the Vagrantfile and the examples name exists', () => {
    const texts = [
      'README.md',
      'Vagrantfile',
      ...readdirSync(join(root, 'scripts')).map((f) => `scripts/${f}`),
      'examples/pgtasks.tasks.ts',
      'examples/inventories/vagrant.yml',
    ];
    const named = new Set<string>();
    for (const t of texts)
      for (const m of readFileSync(join(root, t), 'utf8').matchAll(/(?<![\w/.])((?:examples\/inventories|inventory)\/[\w./-]+\.ya?ml)\b/g)) named.add(m[1]!);
    expect(named.size).toBeGreaterThan(0);
    for (const path of named) expect(existsSync(join(root, path)), path).toBe(true);
  });
});
