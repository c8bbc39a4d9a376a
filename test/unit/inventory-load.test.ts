import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { loadInventory } from '../../src/inventory/index.js';
import { tree } from './helpers/tree.js';
import { expandHostPattern } from '../../src/inventory/host-range.js';
import { iniValue, shlexSplit } from '../../src/inventory/ini-source.js';

const fixtures = fileURLToPath(new URL('../fixtures/inventories/', import.meta.url));

describe('parsing', () => {
  test('YAML: groups, direct members, inventory order, all and ungrouped', async () => {
    const inv = await loadInventory(fixtures + 'order.yml');
    expect([...inv.hosts.keys()]).toEqual(['pg1', 'pg2', 'pg3', 'pg4', 'wa', 'wb', 'solo']);
    expect(inv.groups.get('all')!.children).toEqual(['ungrouped', 'db', 'web', 'empty']);
    expect(inv.groups.get('ungrouped')!.hosts).toEqual(['solo']);
    expect(inv.groups.get('db')).toMatchObject({ name: 'db', hosts: ['pg1'], children: ['db_primary', 'db_replica'], vars: { settings: { a: 1, b: 2 } } });
    expect(inv.groups.get('db')!.origins!.settings).toMatchObject({ file: fixtures + 'order.yml', line: 13 });
    expect(inv.hosts.get('pg4')!.vars).toMatchObject({ ansible_port: 2222, role: 'standby' });
    expect(inv.hosts.get('wa')!.vars).toMatchObject({ flag: true, mode: 493, when: '2024-01-02' });
  });

  test('INI: sections, typed values, an ungrouped host that joins a group later', async () => {
    const inv = await loadInventory(fixtures + 'literals.ini');
    expect(inv.groups.get('ungrouped')!.hosts).toEqual(['other']);
    expect(inv.groups.get('prod')!.children).toEqual(['db', 'later']);
    expect(inv.hosts.get('db01')!.vars).toMatchObject({
      quoted: 5,
      spaced: 'a b',
      list: [1, 'two'],
      word: 'true',
      cap: true,
      q: '7',
      sentence: 'hello big world',
      num: 42,
    });
    expect(inv.hosts.get('db03')!.vars).toMatchObject({ ansible_port: 2222, none: null, hex: 16 });
  });

  test.each([
    ['22', 22],
    ['true', 'true'],
    ['True', true],
    ['None', null],
    ['"a b"', 'a b'],
    ["['x', 1, (2, 3)]", ['x', 1, [2, 3]]],
    ["{'k': None}", { k: null }],
    ['007', '007'],
    ['1_000', 1000],
    ['5 # note', 5],
    ['hello # note', 'hello # note'],
  ])('INI value %s → %j (ast.literal_eval)', (text, value) => expect(iniValue(text)).toEqual(value));

  test('host lines split like shlex; host names expand like Ansible', () => {
    expect(shlexSplit(`h a="x y" b='q' c=d\\ e # gone`)).toEqual(['h', 'a=x y', 'b=q', 'c=d e']);
    expect(expandHostPattern('db[01:03].example')).toEqual({ hosts: ['db01.example', 'db02.example', 'db03.example'] });
    expect(expandHostPattern('w[a:c]:2222')).toEqual({ hosts: ['wa', 'wb', 'wc'], port: 2222 });
    expect(expandHostPattern('h[0:4:2]')).toEqual({ hosts: ['h0', 'h2', 'h4'] });
    expect(expandHostPattern('fe80::1')).toEqual({ hosts: ['fe80::1'] });
  });

  test('a directory: files in order, subdirectories, ignored names; format by extension or content', async () => {
    const inv = await loadInventory(fixtures + 'dir2');
    expect([...inv.hosts.keys()]).toEqual(['pg1', 'pg2', 'w1', 'pg3']);
    expect(inv.sources.map((s) => s.slice(fixtures.length))).toEqual(['dir2/a-hosts', 'dir2/sub/b-hosts']);
  });
});

describe('precedence (Ansible defaults, hash_behaviour=replace)', () => {
  const dir = tree({
    'hosts.yml': `all:
  vars: { v: all, d: { from: all } }
  children:
    parent:
      vars: { v: parent, pv: parent }
      children:
        child:
          vars: { v: child }
          hosts:
            h1: { hv: inline }
            h2:
            h3: { v: host }
    a_side: { vars: { same: a_side }, hosts: { h1: } }
    b_side: { vars: { same: b_side, d: { from: b } }, hosts: { h1: } }
    prio_lo: { vars: { p: lo, ansible_group_priority: 10 }, hosts: { h2: } }
    prio_hi: { vars: { p: hi }, hosts: { h2: } }
`,
    'group_vars/all.yml': 'gva: all-file\nhv: group_vars_all\n',
    'group_vars/parent.yml': 'pv: parent-file\n',
    'host_vars/h1/a.yml': 'hf: a\n',
    'host_vars/h1/b.yml': 'hf: b\nhv: host_vars\n',
  });
  test.each([
    // host, variable, value: why
    ['h2', 'v', 'child'], // the child group beats its parent, which beats all
    ['h3', 'v', 'host'], // a host var beats every group
    ['h1', 'same', 'b_side'], // same depth: by name, the later name wins
    ['h1', 'd', { from: 'b' }], // dicts replace, never merge
    ['h2', 'p', 'lo'], // same depth: a higher ansible_group_priority wins over the name order
    ['h1', 'pv', 'parent-file'], // group_vars/ beat inventory group vars
    ['h2', 'gva', 'all-file'], // group_vars/all reaches every host
    ['h1', 'hv', 'host_vars'], // host_vars/ beat inventory host vars and group_vars/
    ['h1', 'hf', 'b'], // files of host_vars/<host>/ apply in lexical order
  ])('%s %s = %j', async (host, name, value) => {
    const inv = await loadInventory(join(dir, 'hosts.yml'));
    expect(inv.hosts.get(host)!.vars[name]).toEqual(value);
  });

  test('ansible_group_priority orders groups but is not a variable', async () => {
    const inv = await loadInventory(join(dir, 'hosts.yml'));
    expect(inv.hosts.get('h2')!.vars).not.toHaveProperty('ansible_group_priority');
  });

  test('fixture dir: group_vars/<group>/ merges in order; an inline host var beats group_vars/all', async () => {
    const inv = await loadInventory(fixtures + 'dir');
    expect(inv.hosts.get('pg1')!.vars).toMatchObject({ pg_sync_replicas: 1, extra: true, level: 'group_vars_all', region: 'eu' });
    expect(inv.hosts.get('web1')!.vars.level).toBe('host_inline');
    expect(inv.hosts.get('pg2')!.vars.level).toBe('host_vars_pg2');
  });
});
