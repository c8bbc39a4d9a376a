import { InventoryError, type Inventory } from './types.js';

function inOrder(inv: Inventory, found: Set<string>): string[] {
  return [...inv.hosts.keys()].filter((h) => found.has(h));
}

function collect(inv: Inventory, group: string, found: Set<string>, seen = new Set<string>()): void {
  if (seen.has(group)) return;
  seen.add(group);
  const g = inv.groups.get(group);
  if (!g) return;
  g.hosts.forEach((h) => found.add(h));
  g.children.forEach((c) => collect(inv, c, found, seen));
}

/** All hosts of a group and of its descendants, in inventory order ('all' is every host). */
export function groupHosts(inv: Inventory, group: string): string[] {
  if (group === 'all') return [...inv.hosts.keys()];
  const found = new Set<string>();
  collect(inv, group, found);
  return inOrder(inv, found);
}

/** The groups a host is in, directly or through parents: Ansible's group_names (sorted, no 'all'). */
export function hostGroups(inv: Inventory, host: string): string[] {
  const parents = new Map<string, string[]>();
  for (const g of inv.groups.values()) for (const c of g.children) parents.set(c, [...(parents.get(c) ?? []), g.name]);
  const out = new Set<string>();
  const climb = (g: string) => {
    if (out.has(g)) return;
    out.add(g);
    (parents.get(g) ?? []).forEach(climb);
  };
  for (const g of inv.groups.values()) if (g.hosts.includes(host)) climb(g.name);
  out.delete('all');
  return [...out].sort();
}

/** Python's fnmatch.translate, which Ansible matches names with: * ? [seq] [!seq], whole name. */
function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    const close = c === '[' ? glob.indexOf(']', i + 2) : -1;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (close > 0) {
      const body = glob.slice(i + 1, close).replace(/\\/g, '\\\\');
      re += body.startsWith('!') ? `[^${body.slice(1)}]` : `[${body}]`;
      i = close;
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^(?:${re})$`, 's');
}

/** Ansible's subscripts: `db[0]`, `db[-1]`, `db[1:3]`, `db[2:]` pick from a pattern's hosts. */
const SUBSCRIPT = /^(.+)\[(?:(-?\d+)|(\d+):(\d*))\]$/;

/** The hosts one term names: a host, a group, a glob or ~regex over both (Ansible's _enumerate_matches). */
function term(inv: Inventory, text: string, whole: string): string[] {
  const sub = text.startsWith('~') ? null : SUBSCRIPT.exec(text);
  const pattern = sub ? sub[1]! : text;
  let hosts: string[];
  if (pattern === 'all' || pattern === '*') hosts = [...inv.hosts.keys()];
  else if (inv.hosts.has(pattern) && !inv.groups.has(pattern)) hosts = [pattern];
  else {
    let re: RegExp;
    try {
      re = pattern.startsWith('~') ? new RegExp(`^(?:${pattern.slice(1)})`) : globToRegExp(pattern);
    } catch {
      throw new InventoryError(inv.sources[0] ?? 'inventory', undefined, `host pattern '${whole}': '${pattern}' is not a valid regular expression`);
    }
    const found = new Set<string>();
    const groups = [...inv.groups.keys()].filter((g) => re.test(g));
    groups.forEach((g) => collect(inv, g, found));
    // As Ansible: names are tried as hosts when no group matched, or when they look like a pattern.
    const glob = pattern.startsWith('~') || /[.?*[]/.test(pattern);
    if (!groups.length || glob) for (const h of inv.hosts.keys()) if (re.test(h)) found.add(h);
    if (!groups.length && !found.size) {
      throw new InventoryError(inv.sources[0] ?? 'inventory', undefined, `host pattern '${whole}': '${pattern}' matches no host or group`);
    }
    hosts = inOrder(inv, found);
  }
  if (!sub) return hosts;
  if (sub[2] !== undefined) {
    const i = Number(sub[2]);
    const h = hosts[i < 0 ? hosts.length + i : i];
    return h === undefined ? [] : [h];
  }
  return hosts.slice(Number(sub[3]), sub[4] ? Number(sub[4]) + 1 : undefined);
}

/** Ansible's split_host_pattern: commas, else colons outside [..] (ranges and subscripts keep theirs). */
function split(pattern: string): string[] {
  const parts = pattern.includes(',') ? pattern.split(',') : (pattern.match(/(?:[^\s:[\]]|\[[^\]]*\])+/g) ?? []);
  return parts.map((p) => p.trim()).filter(Boolean);
}

/**
 * Ansible host patterns: `a:b` or `a,b` (union), `&g` (and in g), `!g` (not in g), globs, `~regex`,
 * subscripts. As in Ansible, unions come first, then intersections, then exclusions; a name that
 * matches nothing is an error (Ansible only warns, and a typo in --limit would then run nowhere).
 */
export function selectHosts(inv: Inventory, pattern: string): string[] {
  const parts = split(pattern);
  if (parts.length === 0) throw new InventoryError(inv.sources[0] ?? 'inventory', undefined, 'empty host pattern');
  const plain = parts.filter((p) => !p.startsWith('&') && !p.startsWith('!'));
  const selected = new Set<string>();
  for (const p of plain.length ? plain : ['all']) term(inv, p, pattern).forEach((h) => selected.add(h));
  for (const p of parts.filter((x) => x.startsWith('&'))) {
    const keep = new Set(term(inv, p.slice(1), pattern));
    for (const h of [...selected]) if (!keep.has(h)) selected.delete(h);
  }
  for (const p of parts.filter((x) => x.startsWith('!'))) term(inv, p.slice(1), pattern).forEach((h) => selected.delete(h));
  return inOrder(inv, selected);
}
