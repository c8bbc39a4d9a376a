import type { Inventory } from './types.js';

/**
 * The JSON `ansible-inventory --list` prints (its json_inventory): every group reachable from 'all'
 * with its direct hosts and children, empty lists left out and groups with neither left out —
 * though their parents still list them; 'all' never lists hosts. Merged variables go in
 * _meta.hostvars, for hosts that have any.
 */
export function toAnsibleList(inv: Inventory): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const seen = new Set<string>();
  const format = (name: string) => {
    const g = inv.groups.get(name)!;
    const entry: Record<string, unknown> = {};
    if (name !== 'all' && g.hosts.length) entry.hosts = [...g.hosts];
    if (g.children.length) entry.children = [...g.children];
    if (Object.keys(entry).length) out[name] = entry;
    for (const c of g.children) {
      if (seen.has(c)) continue;
      seen.add(c);
      format(c);
    }
  };
  format('all');
  const hostvars = Object.fromEntries([...inv.hosts.values()].filter((h) => Object.keys(h.vars).length).map((h) => [h.name, h.vars]));
  out._meta = { hostvars };
  return out;
}
