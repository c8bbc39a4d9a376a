import type { RawInventory } from './model.js';
import { InventoryError, type Inventory, type InventoryGroup } from './types.js';

/** Ansible's reconciliation: parentless groups join 'all'; hosts in no group but 'all' join 'ungrouped'. */
function reconcile(raw: RawInventory): void {
  const hasParent = new Set([...raw.groups.values()].flatMap((g) => g.children));
  for (const name of raw.groupOrder) if (name !== 'all' && !hasParent.has(name)) raw.addChild('all', name);
  const grouped = new Set([...raw.groups.values()].filter((g) => g.name !== 'all' && g.name !== 'ungrouped').flatMap((g) => g.hosts));
  for (const h of raw.hosts.keys()) {
    if (!grouped.has(h)) {
      const u = raw.group('ungrouped');
      if (!u.hosts.includes(h)) u.hosts.push(h);
    }
  }
}

function checkCycles(raw: RawInventory, file: string): void {
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, trail: string[]) => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') throw new InventoryError(file, undefined, `cycle in group children: ${[...trail, name].join(' -> ')}`);
    state.set(name, 'visiting');
    for (const c of raw.groups.get(name)?.children ?? []) visit(c, [...trail, name]);
    state.set(name, 'done');
  };
  for (const name of raw.groups.keys()) visit(name, []);
}

/** Depth from 'all' (longest path), which orders group variables: deeper groups win. */
function depths(raw: RawInventory): Map<string, number> {
  const depth = new Map<string, number>([['all', 0]]);
  const walk = (name: string, d: number) => {
    if ((depth.get(name) ?? -1) >= d && name !== 'all') return;
    depth.set(name, d);
    for (const c of raw.groups.get(name)?.children ?? []) walk(c, d + 1);
  };
  for (const c of raw.groups.get('all')!.children) walk(c, 1);
  return depth;
}

/** Merges variables with Ansible's precedence and freezes the result. */
export function buildInventory(raw: RawInventory, file: string): Inventory {
  for (const h of raw.hosts.keys()) {
    if (raw.groups.has(h)) throw new InventoryError(file, undefined, `'${h}' is both a host and a group; rename one`);
  }
  checkCycles(raw, file);
  reconcile(raw);
  const depth = depths(raw);
  const parents = new Map<string, string[]>();
  for (const g of raw.groups.values()) for (const c of g.children) parents.set(c, [...(parents.get(c) ?? []), g.name]);
  const ancestors = (group: string, seen = new Set<string>()): Set<string> => {
    seen.add(group);
    for (const p of parents.get(group) ?? []) if (!seen.has(p)) ancestors(p, seen);
    return seen;
  };
  const groupsOfHost = new Map<string, Set<string>>();
  for (const g of raw.groups.values()) {
    for (const h of g.hosts) {
      const set = groupsOfHost.get(h) ?? new Set(['all']);
      for (const a of ancestors(g.name)) set.add(a);
      groupsOfHost.set(h, set);
    }
  }
  const priority = (name: string) => Number(raw.groups.get(name)!.vars.ansible_group_priority ?? 1);
  const order = (a: string, b: string) => (depth.get(a) ?? 0) - (depth.get(b) ?? 0) || priority(a) - priority(b) || (a < b ? -1 : a > b ? 1 : 0);

  const inventory: Inventory = { sources: raw.sources, hosts: new Map(), groups: new Map() };
  for (const h of raw.hosts.values()) {
    const groups = [...(groupsOfHost.get(h.name) ?? new Set(['all']))].sort(order);
    const vars: Record<string, unknown> = {};
    for (const g of groups) Object.assign(vars, raw.groups.get(g)!.vars);
    for (const g of groups) Object.assign(vars, raw.groups.get(g)!.fileVars);
    Object.assign(vars, h.vars, h.fileVars);
    inventory.hosts.set(h.name, { name: h.name, vars });
  }
  for (const name of raw.groupOrder) {
    const g = raw.groups.get(name)!;
    const group: InventoryGroup = { name, hosts: [...g.hosts], children: [...g.children], vars: { ...g.vars, ...g.fileVars } };
    inventory.groups.set(name, group);
  }
  return inventory;
}
