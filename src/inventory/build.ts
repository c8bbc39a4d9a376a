import { at, fail, type Origin, type RawInventory } from './model.js';
import type { Inventory } from './types.js';

/**
 * Ansible's reconcile_inventory: parentless groups join 'all' (in creation order, which is the
 * order ansible-inventory lists them); a host in no real group joins 'ungrouped', and one that is
 * in a real group leaves it (an INI host listed before any section, then in a section).
 */
function reconcile(raw: RawInventory): void {
  const hasParent = new Set([...raw.groups.values()].flatMap((g) => g.children));
  for (const name of raw.groups.keys()) if (name !== 'all' && !hasParent.has(name)) raw.addChild('all', name);
  const grouped = new Set([...raw.groups.values()].filter((g) => g.name !== 'all' && g.name !== 'ungrouped').flatMap((g) => g.hosts));
  const ungrouped = raw.groups.get('ungrouped')!;
  ungrouped.hosts = ungrouped.hosts.filter((h) => !grouped.has(h));
  for (const h of raw.hosts.keys()) if (!grouped.has(h) && !ungrouped.hosts.includes(h)) ungrouped.hosts.push(h);
}

function checkNames(raw: RawInventory, file: string): void {
  for (const h of raw.hosts.values()) {
    const g = raw.groups.get(h.name);
    if (g) fail(h.origin, `'${h.name}' is both a host and a group${g.origin ? ` (group at ${at(g.origin)})` : ''}; rename one`);
  }
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, trail: string[]) => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') {
      const loop = [...trail.slice(trail.indexOf(name)), name];
      const edge = raw.edges.get(`${loop[loop.length - 2]} ${name}`) ?? { file };
      fail(edge, `cycle in group children: ${loop.join(' -> ')}`);
    }
    state.set(name, 'visiting');
    for (const c of raw.groups.get(name)?.children ?? []) visit(c, [...trail, name]);
    state.set(name, 'done');
  };
  for (const name of raw.groups.keys()) visit(name, []);
}

/** Depth below 'all' by the longest path, as Ansible's Group.depth: deeper groups' variables win. */
function depths(raw: RawInventory): Map<string, number> {
  const depth = new Map<string, number>([['all', 0]]);
  const walk = (name: string, d: number) => {
    if ((depth.get(name) ?? -1) >= d) return;
    depth.set(name, d);
    for (const c of raw.groups.get(name)!.children) walk(c, d + 1);
  };
  for (const c of raw.groups.get('all')!.children) walk(c, 1);
  return depth;
}

/** Every group a host is in, directly or through a parent ('all' included). */
function groupsOf(raw: RawInventory): Map<string, Set<string>> {
  const parents = new Map<string, string[]>();
  for (const g of raw.groups.values()) for (const c of g.children) parents.set(c, [...(parents.get(c) ?? []), g.name]);
  const out = new Map<string, Set<string>>([...raw.hosts.keys()].map((h) => [h, new Set(['all'])]));
  const climb = (group: string, into: Set<string>) => {
    if (into.has(group) && group !== 'all') return;
    into.add(group);
    for (const p of parents.get(group) ?? []) climb(p, into);
  };
  for (const g of raw.groups.values()) for (const h of g.hosts) climb(g.name, out.get(h)!);
  return out;
}

/**
 * Merges variables by Ansible's default precedence (VariableManager.get_vars, hash_behaviour=replace):
 * inventory group vars (all, then groups by depth, priority, name) < group_vars/ files (same order)
 * < inventory host vars < host_vars/ files. Whole values are replaced, dicts included.
 */
export function buildInventory(raw: RawInventory, file: string, dir?: string): Inventory {
  checkNames(raw, file);
  reconcile(raw);
  const depth = depths(raw);
  const key = (name: string) => [depth.get(name) ?? 0, raw.groups.get(name)!.priority] as const;
  const order = (a: string, b: string) => {
    const [da, pa] = key(a);
    const [db, pb] = key(b);
    return da - db || pa - pb || (a < b ? -1 : a > b ? 1 : 0);
  };
  const memberships = groupsOf(raw);
  const inventory: Inventory = { sources: raw.sources, dir, hosts: new Map(), groups: new Map() };
  for (const h of raw.hosts.values()) {
    const groups = [...memberships.get(h.name)!].sort(order).map((g) => raw.groups.get(g)!);
    const vars: Record<string, unknown> = {};
    const origins: Record<string, Origin> = {};
    // The origins follow the values, so an error about a merged value points where it was set.
    for (const g of groups) {
      Object.assign(vars, g.vars);
      Object.assign(origins, g.varOrigins);
    }
    for (const g of groups) {
      Object.assign(vars, g.fileVars);
      Object.assign(origins, g.fileVarOrigins);
    }
    Object.assign(vars, h.vars, h.fileVars);
    Object.assign(origins, h.varOrigins, h.fileVarOrigins);
    inventory.hosts.set(h.name, { name: h.name, vars, origins });
  }
  for (const g of raw.groups.values()) {
    inventory.groups.set(g.name, {
      name: g.name,
      hosts: [...g.hosts],
      children: [...g.children],
      vars: { ...g.vars, ...g.fileVars },
      origins: { ...g.varOrigins, ...g.fileVarOrigins },
    });
  }
  return inventory;
}
