import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { loadInventory, toAnsibleList } from '../../src/inventory/index.js';

const fixtures = fileURLToPath(new URL('../fixtures/inventories/', import.meta.url));
const hasAnsible = (() => {
  try {
    execFileSync('ansible-inventory', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

function ansibleList(path: string): unknown {
  const out = execFileSync('ansible-inventory', ['-i', path, '--list'], {
    encoding: 'utf8',
    cwd: fixtures, // no ansible.cfg here to change the defaults
    env: {
      ...process.env,
      ANSIBLE_INVENTORY_UNPARSED_WARNING: 'False',
      ANSIBLE_LOCALHOST_WARNING: 'False',
      // A broken fixture must fail here, not be skipped with a warning.
      ANSIBLE_INVENTORY_UNPARSED_FAILED: 'True',
      ANSIBLE_DEPRECATION_WARNINGS: 'False',
    },
  });
  return JSON.parse(out);
}

describe('toAnsibleList equals ansible-inventory --list', () => {
  test.skipIf(!hasAnsible).each([
    'nested.yml', // nested groups, a host in several groups, all.hosts → ungrouped
    'order.yml', // children before hosts, ranges, host:port, `hosts: name`, priority, YAML 1.1, anchors and <<
    'groups.ini', // :vars, :children, ranges, an empty group
    'literals.ini', // Python-literal typing, quoting, comments, an ungrouped host that later joins a group
    'dir', // two files (YAML + extension-less INI), group_vars/<group>/ directory, host_vars, README.md ignored
    'dir2', // a subdirectory, .ini and .txt ignored, group_vars/db/ shadows db.yml, nested vars directory
  ])('%s', async (name) => {
    expect(toAnsibleList(await loadInventory(fixtures + name))).toEqual(ansibleList(fixtures + name));
  });
});
