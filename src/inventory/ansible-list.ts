import type { Inventory } from './types.js';

/** The JSON `ansible-inventory --list` prints: groups with hosts/children, merged vars in _meta. */
export function toAnsibleList(inv: Inventory): Record<string, unknown> {
  const out: Record<string, unknown> = { _meta: { hostvars: Object.fromEntries([...inv.hosts.values()].filter((h) => Object.keys(h.vars).length).map((h) => [h.name, h.vars])) } };
  for (const g of inv.groups.values()) {
    const entry: Record<string, unknown> = {};
    if (g.children.length) entry.children = g.children;
    // ansible-inventory never lists all's hosts: they show up under ungrouped or their groups.
    if (g.hosts.length && g.name !== 'all') entry.hosts = g.hosts;
    if (Object.keys(entry).length) out[g.name] = entry;
  }
  return out;
}
