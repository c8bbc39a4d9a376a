import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { UserError } from '../../src/errors.js';
import { InventoryError, loadInventory } from '../../src/inventory/index.js';
import { tree as treeIn } from './helpers/tree.js';

const fixtures = fileURLToPath(new URL('../fixtures/inventories/errors/', import.meta.url));

const tree = (files: Record<string, string>) => treeIn(files, 'pgtasks-inv-err-');

async function failure(path: string): Promise<InventoryError> {
  const err = await loadInventory(path).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InventoryError);
  expect(err).toBeInstanceOf(UserError);
  return err as InventoryError;
}

describe('bad inventories: the message names the file, the line (or path) and the problem', () => {
  test.each([
    ['syntax.yml', /errors\/syntax\.yml:5:1: YAML syntax error: /],
    ['port.yml', /errors\/port\.yml:6: all\.children\.db\.hosts\.pg1\.ansible_port: ansible_port must be an integer from 1 to 65535 \(got "twenty-two"\)/],
    ['cycle.ini', /errors\/cycle\.ini:4: cycle in group children: a -> b -> a/],
    [
      'conflict.yml',
      /errors\/conflict\.yml:8: host pg1 is defined twice with different values for ansible_host: "10\.0\.0\.1" \(.*errors\/conflict\.yml:5\) and "10\.0\.0\.9" \(.*errors\/conflict\.yml:8\)/,
    ],
    ['hostgroup.yml', /errors\/hostgroup\.yml:5: 'db' is both a host and a group \(group at .*hostgroup\.yml:3\)/],
    ['checking.ini', /errors\/checking\.ini:2: host pg1: ssh_host_key_checking must be one of strict, accept-new, off \(got "maybe"\)/],
    ['nope.yml', /errors\/nope\.yml: no such inventory file or directory/],
  ])('%s', async (name, message) => {
    expect((await failure(fixtures + name)).message).toMatch(message);
  });

  const cases: [string, Record<string, string>, string, RegExp][] = [
    [
      'wrong type in YAML vars',
      { 'i.yml': 'all:\n  vars:\n    ansible_user: root\n    ansible_port: 70000\n' },
      'i.yml',
      /i\.yml:4: all\.vars\.ansible_port: ansible_port must be an integer from 1 to 65535 \(got 70000\)/,
    ],
    [
      'a string port is not an integer',
      { 'i.yml': 'all:\n  hosts:\n    h1:\n      ansible_port: "22"\n' },
      'i.yml',
      /i\.yml:4: all\.hosts\.h1\.ansible_port: /,
    ],
    [
      'ansible_become must be a boolean',
      { 'i.yml': 'all:\n  hosts:\n    h1: { ansible_become: maybe }\n' },
      'i.yml',
      /i\.yml:3: all\.hosts\.h1\.ansible_become: ansible_become must be true or false/,
    ],
    [
      'ansible_host must be a string',
      { 'i.yml': 'all:\n  hosts:\n    h1:\n      ansible_host: [a, b]\n' },
      'i.yml',
      /i\.yml:4: all\.hosts\.h1\.ansible_host: ansible_host must be a string/,
    ],
    [
      'unknown key in a group',
      { 'i.yml': 'all:\n  children:\n    db:\n      host:\n        pg1:\n' },
      'i.yml',
      /i\.yml:4: all\.children\.db\.host: unknown key 'host'/,
    ],
    [
      'hosts must be a mapping',
      { 'i.yml': 'all:\n  children:\n    db:\n      hosts: [pg1, pg2]\n' },
      'i.yml',
      /i\.yml:4: all\.children\.db\.hosts: hosts must be a mapping of host names/,
    ],
    ['host vars must be a mapping', { 'i.yml': 'all:\n  hosts:\n    pg1: 5\n' }, 'i.yml', /i\.yml:3: all\.hosts\.pg1: /],
    ['the root must be a mapping', { 'i.yml': '- a\n- b\n' }, 'i.yml', /i\.yml:1: an inventory must be a mapping of groups/],
    [
      'a cycle in YAML children',
      { 'i.yml': 'all:\n  children:\n    a:\n      children:\n        b:\n          children:\n            a:\n' },
      'i.yml',
      /i\.yml:7: cycle in group children: a -> b -> a/,
    ],
    ['INI: unknown section type', { i: '[db:host]\npg1\n' }, 'i', /\/i:1: section \[db:host\] has an unknown type/],
    ['INI: malformed section', { i: '[db servers]\npg1\n' }, 'i', /\/i:1: invalid section header '\[db servers\]'/],
    ['INI: a var without =', { i: '[db]\npg1 port\n' }, 'i', /\/i:2: expected key=value after the host name, got 'port'/],
    ['INI: [x:vars] without =', { i: '[db]\npg1\n[db:vars]\njust words\n' }, 'i', /\/i:4: expected key=value in \[db:vars\]/],
    ['INI: an unclosed quote', { i: '[db]\npg1 a="x\n' }, 'i', /\/i:2: cannot read host line .*no closing quotation/],
    ['INI: children of an undeclared group', { i: '[prod:children]\ndb\n' }, 'i', /\/i:2: \[prod:children\] names a group this file never declares: db/],
    ['INI: vars of an undeclared group', { i: '[ghost:vars]\nx=1\n' }, 'i', /\/i:1: \[ghost:vars\] is for a group this file never declares: ghost/],
    ['INI: wrong port type', { 'i.ini': '[db]\npg1 ansible_port=ssh\n' }, 'i.ini', /i\.ini:2: host pg1: ansible_port must be an integer/],
    [
      'INI: wrong type in [x:vars]',
      { 'i.ini': '[db]\npg1\n[db:vars]\nansible_become=yes\n' },
      'i.ini',
      /i\.ini:4: \[db:vars\]: ansible_become must be true or false \(got "yes"\)/,
    ],
    ['a bad host range', { 'i.ini': '[db]\npg[01:3]\n' }, 'i.ini', /i\.ini:2: cannot read host line .*same width/],
    [
      'group_vars: wrong type, with its line',
      { 'i.yml': 'all:\n  hosts:\n    h1:\n', 'group_vars/all.yml': 'a: 1\nansible_port: x\n' },
      'group_vars/all.yml',
      /group_vars\/all\.yml:2: ansible_port: ansible_port must be an integer/,
    ],
    [
      'host_vars: a YAML syntax error',
      { 'i.yml': 'all:\n  hosts:\n    h1:\n', 'host_vars/h1/x.yml': 'a: [1\n' },
      'host_vars/h1/x.yml',
      /host_vars\/h1\/x\.yml:\d+:\d+: YAML syntax error/,
    ],
    [
      'host_vars: not a mapping',
      { 'i.yml': 'all:\n  hosts:\n    h1:\n', 'host_vars/h1.yml': '- a\n' },
      'host_vars/h1.yml',
      /host_vars\/h1\.yml:1: a variables file must be a mapping/,
    ],
    [
      'conflict across two files of a directory',
      { 'a.yml': 'all:\n  hosts:\n    pg1: { ansible_host: 10.0.0.1 }\n', b: '[db]\npg1 ansible_host=10.0.0.2\n' },
      'b',
      /\/b:2: host pg1 is defined twice with different values for ansible_host: "10\.0\.0\.1" \(.*\/a\.yml:3\) and "10\.0\.0\.2"/,
    ],
    [
      'conflicting group vars',
      { 'a.yml': 'db:\n  vars: { x: 1 }\n', b: '[db:vars]\nx=2\n' },
      'b',
      /\/b:2: group db sets x twice with different values: 1 \(.*a\.yml:2\) and 2/,
    ],
    ['a plugin configuration', { 'i.yml': 'plugin: aws_ec2\n' }, 'i.yml', /i\.yml:1: inventory plugin configurations are not supported/],
    // Keys PyYAML does not read as strings: refused as ansible-inventory refuses them (see inventory-ansible.test.ts).
    [
      'a host named 0x10 (an int)',
      { 'i.yml': 'all:\n  hosts:\n    h1:\n    0x10:\n' },
      'i.yml',
      /i\.yml:4: Host pattern 16 must be a string\. Enclose integers\/floats in quotation marks\.$/,
    ],
    ['a host named yes (a bool)', { 'i.yml': 'all:\n  hosts:\n    yes:\n' }, 'i.yml', /i\.yml:3: Host pattern True must be a string\./],
    ['a host named ~ (None)', { 'i.yml': 'all:\n  hosts:\n    ~:\n' }, 'i.yml', /i\.yml:3: Host pattern None must be a string\./],
    ['a host named 1.0e+5 (a float)', { 'i.yml': 'all:\n  hosts:\n    1.0e+5:\n' }, 'i.yml', /i\.yml:3: Host pattern 100000\.0 must be a string\./],
    ['a host named 12:30:00 (base 60)', { 'i.yml': 'all:\n  hosts:\n    12:30:00:\n' }, 'i.yml', /i\.yml:3: Host pattern 45000 must be a string\./],
    ['a host named by a date', { 'i.yml': 'db:\n  hosts:\n    2024-01-02:\n' }, 'i.yml', /i\.yml:3: Host pattern 2024-01-02 must be a string\./],
    ['an empty host name', { 'i.yml': 'all:\n  hosts:\n    "":\n' }, 'i.yml', /i\.yml:3: Invalid empty host name provided: $/],
    [
      'a group named 10',
      { 'i.yml': '10:\n  hosts:\n    a:\n' },
      'i.yml',
      /i\.yml:1: Unable to add group 10: Invalid group name supplied, expected a string but got <class 'int'> for 10$/,
    ],
    [
      'a child group named 1.5',
      { 'i.yml': 'all:\n  children:\n    1.5:\n' },
      'i.yml',
      /i\.yml:3: Unable to add group 1\.5: Invalid group name supplied, expected a string but got <class 'float'> for 1\.5$/,
    ],
    ['a group named no', { 'i.yml': 'no:\n' }, 'i.yml', /i\.yml:1: Unable to add group False: Invalid empty\/false group name provided: False$/],
    [
      'a group named ~',
      { 'i.yml': 'all:\n  children:\n    ~:\n' },
      'i.yml',
      /i\.yml:3: Unable to add group None: Invalid empty\/false group name provided: None$/,
    ],
    ['not an inventory: :::', { 'i.yml': ':::\n' }, 'i.yml', /i\.yml:1: group name '::' cannot be used: .*is this file an inventory\?/],
    ['not an inventory: ::: without an extension', { i: ':::\n' }, 'i', /\/i:1: group name '::' cannot be used/],
    [
      'not an inventory: ::: read as INI',
      { 'i.ini': ':::\n' },
      'i.ini',
      /i\.ini:1: Invalid host pattern ':::' supplied, ending in ':' is not allowed, this character is reserved to provide a port\.$/,
    ],
    // Everything the loader cannot build is a file:line error, never a crash.
    [
      '<< merging a scalar',
      { 'i.yml': 'all:\n  vars:\n    a:\n      <<: 5\n' },
      'i.yml',
      /i\.yml:4: cannot read YAML: expected a mapping or list of mappings for merging, but found scalar/,
    ],
    [
      '<< with nothing',
      { 'i.yml': 'all:\n  vars:\n    a:\n      <<:\n' },
      'i.yml',
      /i\.yml:4: cannot read YAML: expected a mapping or list of mappings for merging/,
    ],
    [
      '<< merging a list with a scalar',
      { 'i.yml': 'all:\n  vars:\n    a:\n      <<: [{b: 1}, x]\n' },
      'i.yml',
      /i\.yml:4: cannot read YAML: expected a mapping for merging, but found scalar/,
    ],
    [
      '<< as a value',
      { 'i.yml': 'all:\n  vars:\n    a: <<\n' },
      'i.yml',
      /i\.yml:3: cannot read YAML: could not determine a constructor for the tag 'tag:yaml\.org,2002:merge'/,
    ],
    [
      '= as a value',
      { 'i.yml': 'all:\n  vars:\n    a: =\n' },
      'i.yml',
      /i\.yml:3: cannot read YAML: could not determine a constructor for the tag 'tag:yaml\.org,2002:value'/,
    ],
    [
      'an unknown tag',
      { 'i.yml': 'all:\n  vars:\n    a: !foo x\n' },
      'i.yml',
      /i\.yml:3: cannot read YAML: could not determine a constructor for the tag '!foo'/,
    ],
    [
      '!!int on a word',
      { 'i.yml': 'all:\n  vars:\n    a: !!int abc\n' },
      'i.yml',
      /i\.yml:3: cannot read YAML: invalid literal for int\(\) with base 10: 'abc'/,
    ],
    [
      '0x_ (an int with no digits)',
      { 'i.yml': 'all:\n  vars:\n    a: 0x_\n' },
      'i.yml',
      /i\.yml:3: cannot read YAML: invalid literal for int\(\) with base 16: ''/,
    ],
    ['a date that does not exist', { 'i.yml': 'all:\n  vars:\n    a: 2024-02-30\n' }, 'i.yml', /i\.yml:3: cannot read YAML: day is out of range for month/],
    [
      'a list as a key',
      { 'i.yml': 'all:\n  hosts:\n    ? [a, b]\n    : 1\n' },
      'i.yml',
      /i\.yml:3: cannot read YAML: found unacceptable key \(unhashable type: 'AnsibleSequence'\)/,
    ],
    ['a recursive alias', { 'i.yml': 'all:\n  vars:\n    a: &r [1, *r]\n' }, 'i.yml', /i\.yml:3: cannot read YAML: an alias inside the value it names/],
    [
      'an alias bomb',
      {
        'i.yml': `all:\n  vars:\n    a: &a [x, x, x, x, x, x, x, x, x, x]\n${[...'bcdefg'].map((c, i) => `    ${c}: &${c} [${Array(10).fill(`*${'abcdefg'[i]}`).join(', ')}]\n`).join('')}`,
      },
      'i.yml',
      /i\.yml:1: cannot read YAML: aliases expand to more than 1000000 values/,
    ],
    [
      'a vault value',
      { 'i.yml': 'all:\n  vars:\n    a: !vault |\n      $ANSIBLE_VAULT;1.1;AES256\n      6162\n' },
      'i.yml',
      /i\.yml:3: cannot read YAML: a !vault value: pgtasks cannot decrypt Ansible Vault/,
    ],
    [
      '!!set',
      { 'i.yml': 'all:\n  vars:\n    a: !!set {x, y}\n' },
      'i.yml',
      /i\.yml:3: cannot read YAML: could not determine a constructor for the tag 'tag:yaml\.org,2002:set'/,
    ],
    [
      'a key twice in one mapping',
      { 'i.yml': 'all:\n  hosts:\n    a:\n    b:\n    a:\n' },
      'i.yml',
      /i\.yml:5: cannot read YAML: duplicate key a \(first at line 3\)/,
    ],
    [
      '1 and True are the same key for Python',
      { 'i.yml': 'all:\n  vars:\n    m: {1: a, true: b}\n' },
      'i.yml',
      /i\.yml:3: cannot read YAML: duplicate key True \(first at line 3\)/,
    ],
    ['two documents', { 'i.yml': 'all:\n---\nall:\n' }, 'i.yml', /i\.yml:2:1: YAML syntax error: /],
    [
      'a non-string key in group_vars is fine, but a bad value is not',
      { 'i.yml': 'all:\n  hosts:\n    h1:\n', 'group_vars/all.yml': 'yes: 1\nx: <<\n' },
      'group_vars/all.yml',
      /group_vars\/all\.yml:2: cannot read YAML: could not determine a constructor/,
    ],
  ];
  test.each(cases)('%s', async (_, files, file, message) => {
    const dir = tree(files);
    // Several inventory files: load the directory; otherwise the first file (beside its *_vars/).
    const names = Object.keys(files);
    const entry = names.length > 1 && !names.some((f) => f.includes('_vars/')) ? dir : join(dir, names[0]!);
    const err = await failure(entry);
    expect(err.message).toMatch(message);
    expect(err.file).toBe(join(dir, file));
  });

  test('the same host twice with the same values is fine', async () => {
    const dir = tree({ 'i.yml': 'all:\n  children:\n    a: { hosts: { h: { x: 1 } } }\n    b: { hosts: { h: { x: 1, y: 2 } } }\n' });
    const inv = await loadInventory(join(dir, 'i.yml'));
    expect(inv.hosts.get('h')!.vars).toEqual({ x: 1, y: 2 });
  });
});
