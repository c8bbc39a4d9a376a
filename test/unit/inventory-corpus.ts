import { fileURLToPath } from 'node:url';

/** The inventories compared with `ansible-inventory --list` (inventory-ansible.test.ts, inventory-pipe.test.ts). */
export const fixtures = fileURLToPath(new URL('../fixtures/inventories/', import.meta.url));

export const CORPUS: [name: string, what: string][] = [
  ['nested.yml', 'nested groups, a host in several groups, all.hosts → ungrouped'],
  ['order.yml', 'children before hosts, ranges, host:port, `hosts: name`, priority, YAML 1.1, anchors and <<'],
  ['groups.ini', ':vars, :children, ranges, an empty group'],
  ['literals.ini', 'Python-literal typing, quoting, comments, an ungrouped host that later joins a group'],
  ['dir', 'two files (YAML + extension-less INI), group_vars/<group>/ directory, host_vars, README.md ignored'],
  ['dir2', 'a subdirectory, .ini and .txt ignored, group_vars/db/ shadows db.yml, nested vars directory'],
  ['yaml11.yml', 'PyYAML scalars: e1, 1e5, y are strings; "10" "2" "1" keep their order; 0755 is 493; dates; <<; ='],
  ['json-order.json', 'read as JSON first (1e5 is a number there), key order kept'],
];

/** The environment ansible-inventory runs in for the comparisons. */
export const ansibleEnv = {
  ...process.env,
  ANSIBLE_INVENTORY_UNPARSED_WARNING: 'False',
  ANSIBLE_LOCALHOST_WARNING: 'False',
  // A broken fixture must fail here, not be skipped with a warning.
  ANSIBLE_INVENTORY_UNPARSED_FAILED: 'True',
  ANSIBLE_DEPRECATION_WARNINGS: 'False',
};
