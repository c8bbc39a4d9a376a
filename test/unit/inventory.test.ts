import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { groupHosts, hostGroups, InventoryError, loadInventory, selectHosts, toAnsibleList } from '../../src/inventory/index.js';
import { expandHostRange, iniValue } from '../../src/inventory/ini-source.js';

const fixtures = fileURLToPath(new URL('../fixtures/inventories/', import.meta.url));
const hasAnsible = (() => {
  try {
    execFileSync('ansible-inventory', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('inventory: same result as ansible-inventory --list', () => {
  test.skipIf(!hasAnsible).each(['groups.ini', 'nested.yml', 'dir'])('%s', async (name) => {
    const ours = toAnsibleList(await loadInventory(fixtures + name));
    const theirs = JSON.parse(
      execFileSync('ansible-inventory', ['-i', fixtures + name, '--list'], {
        encoding: 'utf8',
        env: { ...process.env, ANSIBLE_INVENTORY_UNPARSED_WARNING: 'False', ANSIBLE_LOCALHOST_WARNING: 'False' },
      }),
    );
    expect(ours).toEqual(theirs);
  });
});

describe('inventory: variable precedence (Ansible defaults)', () => {
  test.each([
    // host       var       expected: why
    ['pg1', 'level', 'group_vars_all'], // group_vars/ files beat every inventory-file group var, even a child group's
    ['pg2', 'level', 'host_vars_pg2'], // host_vars/ beats everything
    ['web1', 'level', 'host_inline'], // an inventory host var beats group_vars/all
    ['pg1', 'pg_sync_replicas', 2], // group_vars/db/ files merge in lexical order
    ['pg1', 'region', 'eu'], // all's vars reach every host
  ])('%s %s = %j', async (host, key, value) => {
    const inv = await loadInventory(fixtures + 'dir');
    expect(inv.hosts.get(host)!.vars[key]).toEqual(value);
  });

  test('a child group beats its parent, the host beats both', async () => {
    const inv = await loadInventory(fixtures + 'nested.yml');
    expect(inv.hosts.get('db2')!.vars).toEqual({ a: 2, b: 'x', c: 3 });
    expect(inv.hosts.get('db1')!.vars).toEqual({ a: 9, b: 'x' });
    expect(inv.hosts.get('solo')!.vars).toEqual({ a: 1 });
  });

  test('INI values are typed as Ansible types them', () => {
    expect(iniValue('2222')).toBe(2222);
    expect(iniValue('true')).toBe('true');
    expect(iniValue('True')).toBe(true);
    expect(iniValue('"a b"')).toBe('a b');
    expect(iniValue("['x', 1]")).toEqual(['x', 1]);
    expect(expandHostRange('db[01:03].example')).toEqual(['db01.example', 'db02.example', 'db03.example']);
    expect(expandHostRange('w[a:c]')).toEqual(['wa', 'wb', 'wc']);
  });
});

describe('inventory: host patterns', () => {
  test.each([
    ['all', ['top1', 'db1', 'db2', 'w1', 'w2']],
    ['prod', ['db1', 'db2', 'w1', 'w2']],
    ['db:web', ['db1', 'db2', 'w1', 'w2']],
    ['prod:!web', ['db1', 'db2']],
    ['prod:&db', ['db1', 'db2']],
    ['w*', ['w1', 'w2']],
    ['~^db[12]$', ['db1', 'db2']],
    ['top1,w2', ['top1', 'w2']],
    ['ungrouped', ['top1']],
  ])('%s', async (pattern, hosts) => {
    expect(selectHosts(await loadInventory(fixtures + 'groups.ini'), pattern)).toEqual(hosts);
  });

  test('an unknown name is an error naming the pattern', async () => {
    const inv = await loadInventory(fixtures + 'groups.ini');
    expect(() => selectHosts(inv, 'db:nosuch')).toThrow(/host pattern 'db:nosuch': 'nosuch' is neither a host nor a group/);
  });

  test('groups of a host and hosts of a group', async () => {
    const inv = await loadInventory(fixtures + 'groups.ini');
    expect(groupHosts(inv, 'prod')).toEqual(['db1', 'db2', 'w1', 'w2']);
    expect(hostGroups(inv, 'db1')).toEqual(['db', 'prod']);
  });
});

describe('inventory: bad input names the file, the place and the problem', () => {
  const fails = async (name: string, ...patterns: RegExp[]) => {
    const err = await loadInventory(fixtures + name).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(InventoryError);
    for (const p of patterns) expect((err as Error).message).toMatch(p);
  };
  test('YAML syntax error: file and line', () => fails('errors/syntax.yml', /errors\/syntax\.yml:\d+:\d+: YAML syntax error/));
  test('wrong type: file, line and path', () => fails('errors/port.yml', /errors\/port\.yml:6: all\.children\.db\.hosts\.pg1\.ansible_port: ansible_port "twenty-two"/));
  test('cycle in children', () => fails('errors/cycle.ini', /cycle in group children: a -> b -> a/));
  test('conflicting host definitions', () => fails('errors/conflict.yml', /conflict\.yml:8: host pg1 is defined twice with different values for ansible_host: "10.0.0.1" \(.*conflict\.yml:5\) and "10.0.0.9"/));
  test('a group that is also a host', () => fails('errors/hostgroup.yml', /'db' is both a host and a group/));
  test('bad enum in INI', () => fails('errors/checking.ini', /checking\.ini:2: host pg1: ssh_host_key_checking "maybe"/));
  test('missing file', () => fails('errors/nope.yml', /nope\.yml: no such inventory file or directory/));
});
