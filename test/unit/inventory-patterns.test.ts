import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { groupHosts, hostGroups, InventoryError, loadInventory, selectHosts } from '../../src/inventory/index.js';

const fixtures = fileURLToPath(new URL('../fixtures/inventories/', import.meta.url));
// groups.ini: top1 (ungrouped); db: db1 db2; web: w1 w2; prod: db + web; empty
const inv = await loadInventory(fixtures + 'groups.ini');

describe('host patterns (Ansible semantics, inventory order)', () => {
  test.each([
    ['all', ['top1', 'db1', 'db2', 'w1', 'w2']],
    ['*', ['top1', 'db1', 'db2', 'w1', 'w2']],
    ['prod', ['db1', 'db2', 'w1', 'w2']],
    ['w2:db1', ['db1', 'w2']],
    ['db:web', ['db1', 'db2', 'w1', 'w2']],
    ['top1,w2', ['top1', 'w2']],
    ['prod:!web', ['db1', 'db2']],
    ['prod:&db', ['db1', 'db2']],
    ['!db', ['top1', 'w1', 'w2']], // only exclusions: from all
    ['&prod:!w1', ['db1', 'db2', 'w2']],
    ['w*', ['w1', 'w2']],
    ['d?1', ['db1']],
    ['db[!1]', ['db2']], // fnmatch class (no subscript: not a number)
    ['pro*', ['db1', 'db2', 'w1', 'w2']], // globs match groups too
    ['~^db[12]$', ['db1', 'db2']],
    ['~d', ['db1', 'db2']],
    ['~w', ['w1', 'w2']],
    ['prod[0]', ['db1']],
    ['prod[-1]', ['w2']],
    ['prod[1:2]', ['db2', 'w1']],
    ['prod[2:]', ['w1', 'w2']],
    ['ungrouped', ['top1']],
    ['empty', []],
  ])('%s', (pattern, hosts) => {
    expect(selectHosts(inv, pattern)).toEqual(hosts);
  });

  test.each(['db:nosuch', 'nosuch*', '!gone', '~b' /* re.match: anchored at the start */])('%s: an unknown name is an error naming the pattern', (pattern) => {
    expect(() => selectHosts(inv, pattern)).toThrow(InventoryError);
    expect(() => selectHosts(inv, pattern)).toThrow(/host pattern '.*': '.*' matches no host or group/);
  });

  test('groupHosts includes descendants; hostGroups is group_names', () => {
    expect(groupHosts(inv, 'prod')).toEqual(['db1', 'db2', 'w1', 'w2']);
    expect(groupHosts(inv, 'all')).toEqual(['top1', 'db1', 'db2', 'w1', 'w2']);
    expect(hostGroups(inv, 'w1')).toEqual(['prod', 'web']);
    expect(hostGroups(inv, 'top1')).toEqual(['ungrouped']);
  });
});
