import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { isDnsName, isHostAddress } from '../../src/cluster/address-syntax.js';
import { clustersOf } from '../../src/cluster/vars.js';
import { InventoryProblems, loadInventory, type Inventory } from '../../src/inventory/index.js';

const dir = mkdtempSync(join(tmpdir(), 'pgtasks-addr-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function problems(name: string, text: string): Promise<string[]> {
  const file = join(dir, name);
  writeFileSync(file, text);
  const err = await loadInventory(file).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (err === undefined) return [];
  expect(err).toBeInstanceOf(InventoryProblems);
  return (err as InventoryProblems).problems.map((p) => p.replace(`${file}:`, 'line '));
}

describe('addresses and names are checked when the inventory loads, each at its line', () => {
  test('hostile ansible_host, service name, registry server and zone, pg_hba lines, a member named with a space', async () => {
    const found = await problems(
      'bad.yml',
      `all:
  vars:
    pg_cluster: demo
    pg_service_name: "demo-db.lab.\\nupdate add evil.lab. 5 A 10.9.9.9"
    pg_registry: {provider: dns, server: "127.0.0.1 53\\nzone evil", zone: "lab.test; x", key_file: k}
  hosts:
    h1:
      ansible_host: "10.0.0.1; touch /tmp/pwned #"
    h2:
      ansible_host: 10.0.0.2
      pg_hba: ["host all all 10.0.0.0/8 scram-sha-256\\nlocal all all peer", {address: "a\\nb", method: md5}]
    "h 3":
      ansible_host: -oProxyCommand=id
    h4 x:
      pg_state: present
    h5:
      ansible_host: "10.0.0.5\\n"
`,
    );
    expect(found).toEqual([
      'line 3: host "h4 x" has no ansible_host, so its name is its address, and it must be a host name or an IP address; set ansible_host',
      'line 4: pg_service_name: must be a DNS name: letters, digits, hyphens and dots (got "demo-db.lab.\\nupdate add evil.lab. 5 A 10.9.9.9")',
      'line 5: pg_registry.server: must be a host name or an IP address (got "127.0.0.1 53\\nzone evil")',
      'line 5: pg_registry.zone: must be a DNS name: letters, digits, hyphens and dots (got "lab.test; x")',
      'line 8: ansible_host: must be a host name or an IP address (got "10.0.0.1; touch /tmp/pwned #")',
      'line 11: pg_hba[0]: must be one line (no newline or control character) (got "host all all 10.0.0.0/8 scram-sha-256\\nlocal all all peer")',
      'line 11: pg_hba[1].address: must be one line (no newline or control character) (got "a\\nb")',
      'line 13: ansible_host: must be a host name or an IP address (got "-oProxyCommand=id")',
      'line 17: ansible_host: must be a host name or an IP address (got "10.0.0.5\\n")',
    ]);
  });

  test('INI values too, before any connection', async () => {
    const found = await problems(
      'bad.ini',
      `[db]\nh1 ansible_host="10.0.0.1;id" pg_cluster=demo\nh2 ansible_host=10.0.0.2 pg_cluster=demo pg_service_name="a b"\n`,
    );
    expect(found).toEqual([
      'line 2: ansible_host: must be a host name or an IP address (got "10.0.0.1;id")',
      'line 3: pg_service_name: must be a DNS name: letters, digits, hyphens and dots (got "a b")',
    ]);
  });

  test('ordinary names and addresses pass', async () => {
    expect(
      await problems(
        'good.yml',
        `all:
  vars: {pg_cluster: demo, pg_service_name: demo-db.lab.pgtasks.test., pg_registry: {provider: dns, server: ns1.lab, zone: lab.pgtasks.test, key_file: k}}
  hosts:
    h1: {ansible_host: 10.231.0.11}
    h2: {ansible_host: "fe80::1%eth0"}
    db_3.example.com: {}
    h4: {ansible_host: db-4.internal}
    other: {ansible_host: 2001:db8::7}
`,
      ),
    ).toEqual([]);
    for (const ok of ['h1', 'db-1.example.com', 'db_1', '10.0.0.1', '::1', 'x.']) expect(isHostAddress(ok), ok).toBe(true);
    for (const bad of ['', '-h', 'a b', 'a;b', 'a\nb', "a'b", 'a..b', '$(id)', 'a-.b', `${'a'.repeat(64)}.b`]) expect(isHostAddress(bad), bad).toBe(false);
    for (const bad of ['db_1', 'a b', 'a\nb', '-a', 'a.-b', '*.x']) expect(isDnsName(bad), bad).toBe(false);
  });

  test('an inventory built in code is checked the same way (clustersOf)', () => {
    const inv: Inventory = {
      sources: [],
      hosts: new Map([['h1', { name: 'h1', vars: { pg_cluster: 'demo', ansible_host: '$(reboot)' } }]]),
      groups: new Map(),
    };
    expect(() => clustersOf(inv)).toThrow(/host h1: ansible_host: must be a host name or an IP address \(got "\$\(reboot\)"\)/);
  });
});
