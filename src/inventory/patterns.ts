import { InventoryError, type Inventory } from './types.js';

/** All hosts of a group and of its descendants, in inventory order. */
export function groupHosts(inv: Inventory, group: string): string[] {
  const found = new Set<string>();
  const visit = (name: string, seen: Set<string>) => {
    if (seen.has(name)) return;
    seen.add(name);
    const g = inv.groups.get(name);
    if (!g) return;
    if (name === 'all') for (const h of inv.hosts.keys()) found.add(h);
    g.hosts.forEach((h) => found.add(h));
    g.children.forEach((c) => visit(c, seen));
  };
  visit(group, new Set());
  return [...inv.hosts.keys()].filter((h) => found.has(h));
}

/** The groups a host belongs to, directly or through parents (Ansible's group_names, without 'all'). */
export function hostGroups(inv: Inventory, host: string): string[] {
  return [...inv.groups.keys()].filter((g) => g !== 'all' && groupHosts(inv, g).includes(host));
}

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
}

/** Hosts one pattern term names: a host, a group, a glob or ~regex over both. */
function term(inv: Inventory, pattern: string, whole: string): Set<string> {
  if (pattern === 'all' || pattern === '*') return new Set(inv.hosts.keys());
  if (inv.groups.has(pattern)) return new Set(groupHosts(inv, pattern));
  if (inv.hosts.has(pattern)) return new Set([pattern]);
  const re = pattern.startsWith('~') ? new RegExp(pattern.slice(1)) : /[*?[]/.test(pattern) ? globToRegExp(pattern) : undefined;
  if (!re) throw new InventoryError(inv.sources[0] ?? 'inventory', undefined, `host pattern '${whole}': '${pattern}' is neither a host nor a group`);
  const out = new Set<string>();
  for (const g of inv.groups.keys()) if (re.test(g)) groupHosts(inv, g).forEach((h) => out.add(h));
  for (const h of inv.hosts.keys()) if (re.test(h)) out.add(h);
  return out;
}

/**
 * Ansible host patterns: `a:b` or `a,b` (union), `&g` (and in g), `!g` (not in g), globs, `~regex`.
 * As in Ansible, unions are taken first, then intersections, then exclusions. Inventory order out.
 */
export function selectHosts(inv: Inventory, pattern: string): string[] {
  const parts = pattern.split(/[,:]/).map((p) => p.trim()).filter(Boolean);
  if (parts.length === 0) throw new InventoryError(inv.sources[0] ?? 'inventory', undefined, 'empty host pattern');
  const plain = parts.filter((p) => !p.startsWith('&') && !p.startsWith('!'));
  const selected = new Set<string>();
  for (const p of plain.length ? plain : ['all']) term(inv, p, pattern).forEach((h) => selected.add(h));
  for (const p of parts.filter((x) => x.startsWith('&'))) {
    const keep = term(inv, p.slice(1), pattern);
    for (const h of [...selected]) if (!keep.has(h)) selected.delete(h);
  }
  for (const p of parts.filter((x) => x.startsWith('!'))) term(inv, p.slice(1), pattern).forEach((h) => selected.delete(h));
  return [...inv.hosts.keys()].filter((h) => selected.has(h));
}
