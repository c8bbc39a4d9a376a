import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { clusterCredentials } from '../../src/cluster/credentials.js';
import { Secrets } from '../../src/engine/secrets.js';
import { loadInventory } from '../../src/inventory/index.js';
import { tree } from './helpers/tree.js';

describe('a directory inventory never reads pgtasks credentials as inventory', () => {
  const made: string[] = [];
  afterEach(() => made.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

  test('the default credentials/ folder inside it is skipped', async () => {
    const dir = tree({ 'hosts.yml': 'all:\n  hosts:\n    h1:\n', 'credentials/demo/admin.password': 's3cret-Password\n' });
    made.push(dir);
    const inv = await loadInventory(dir);
    expect([...inv.hosts.keys()]).toEqual(['h1']);
  });

  test('a credentials folder of another name is skipped once pgtasks has made it (marker)', async () => {
    const dir = tree({ 'hosts.yml': 'all:\n  hosts:\n    h1:\n' });
    made.push(dir);
    await clusterCredentials(join(dir, 'secrets'), 'demo', true, new Secrets());
    const inv = await loadInventory(dir);
    expect([...inv.hosts.keys()]).toEqual(['h1']);
  });
});
