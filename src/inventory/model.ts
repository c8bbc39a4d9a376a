import { InventoryError, type Origin } from './types.js';

export type { Origin } from './types.js';

export function at(o: Origin): string {
  return o.line ? `${o.file}:${o.line}` : o.file;
}

export function fail(o: Origin, what: string): never {
  throw new InventoryError(o.file, o.line ? String(o.line) : undefined, what);
}

export interface RawGroup {
  name: string;
  hosts: string[];
  children: string[];
  vars: Record<string, unknown>;
  varOrigins: Record<string, Origin>;
  /** group_vars/ files: above every inventory-file group var (Ansible's precedence). */
  fileVars: Record<string, unknown>;
  fileVarOrigins: Record<string, Origin>;
  /** ansible_group_priority: Ansible keeps it out of the variables and sorts same-depth groups by it. */
  priority: number;
  origin?: Origin;
}

export interface RawHost {
  name: string;
  vars: Record<string, unknown>;
  varOrigins: Record<string, Origin>;
  fileVars: Record<string, unknown>;
  fileVarOrigins: Record<string, Origin>;
  origin: Origin;
}

const UNUSABLE_GROUP_NAME = /[\s:,]/;

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * The inventory as the sources declare it, before variables are merged. Sources add to it in
 * order (Maps keep it: Ansible lists groups and hosts in creation order); it refuses what Ansible
 * silently merges (one host or group given two values for the same variable).
 */
export class RawInventory {
  readonly groups = new Map<string, RawGroup>();
  readonly hosts = new Map<string, RawHost>();
  readonly sources: string[] = [];
  /** "parent child" → where the edge was declared, to place a cycle. */
  readonly edges = new Map<string, Origin>();

  constructor() {
    this.group('all');
    // As in Ansible's InventoryData: 'ungrouped' is all's first child from the start.
    this.addChild('all', 'ungrouped');
  }

  group(name: string, origin?: Origin): RawGroup {
    let g = this.groups.get(name);
    if (!g) {
      // Ansible only warns about such a name; it could never be named in a host pattern (`:::` is not an inventory).
      if (origin && UNUSABLE_GROUP_NAME.test(name))
        fail(origin, `group name '${name}' cannot be used: ':', ',' and blanks separate host patterns (is this file an inventory?)`);
      g = { name, hosts: [], children: [], vars: {}, varOrigins: {}, fileVars: {}, fileVarOrigins: {}, priority: 1, origin };
      this.groups.set(name, g);
    }
    g.origin ??= origin;
    return g;
  }

  addHost(group: string, host: string, origin: Origin): RawHost {
    let h = this.hosts.get(host);
    if (!h) {
      h = { name: host, vars: {}, varOrigins: {}, fileVars: {}, fileVarOrigins: {}, origin };
      this.hosts.set(host, h);
    }
    const g = this.group(group);
    if (!g.hosts.includes(host)) g.hosts.push(host);
    return h;
  }

  setHostVar(host: string, key: string, value: unknown, origin: Origin): void {
    const h = this.hosts.get(host)!;
    if (key in h.vars && !same(h.vars[key], value)) {
      fail(
        origin,
        `host ${host} is defined twice with different values for ${key}: ${JSON.stringify(h.vars[key])} (${at(h.varOrigins[key]!)}) and ${JSON.stringify(value)} (${at(origin)}); define each host variable once`,
      );
    }
    h.vars[key] = value;
    h.varOrigins[key] = origin;
  }

  setGroupVar(group: string, key: string, value: unknown, origin: Origin): void {
    const g = this.group(group);
    if (key === 'ansible_group_priority') {
      const n = Number(value);
      if (!Number.isInteger(n)) fail(origin, `group ${group}: ansible_group_priority ${JSON.stringify(value)} is not an integer`);
      g.priority = n;
      return;
    }
    if (key in g.vars && !same(g.vars[key], value)) {
      fail(
        origin,
        `group ${group} sets ${key} twice with different values: ${JSON.stringify(g.vars[key])} (${at(g.varOrigins[key]!)}) and ${JSON.stringify(value)} (${at(origin)})`,
      );
    }
    g.vars[key] = value;
    g.varOrigins[key] = origin;
  }

  /** Every variable as each place sets it, shadowed values included: all are checked, each at its line. */
  *definitions(): Generator<{ name: string; value: unknown; origin?: Origin; scope: string }> {
    for (const g of this.groups.values()) {
      for (const [name, value] of Object.entries(g.vars)) yield { name, value, origin: g.varOrigins[name], scope: `group ${g.name}` };
      for (const [name, value] of Object.entries(g.fileVars)) yield { name, value, origin: g.fileVarOrigins[name], scope: `group ${g.name}` };
    }
    for (const h of this.hosts.values()) {
      for (const [name, value] of Object.entries(h.vars)) yield { name, value, origin: h.varOrigins[name], scope: `host ${h.name}` };
      for (const [name, value] of Object.entries(h.fileVars)) yield { name, value, origin: h.fileVarOrigins[name], scope: `host ${h.name}` };
    }
  }

  addChild(parent: string, child: string, origin?: Origin): void {
    const p = this.group(parent, origin);
    this.group(child, origin);
    if (!p.children.includes(child)) p.children.push(child);
    if (origin && !this.edges.has(`${parent} ${child}`)) this.edges.set(`${parent} ${child}`, origin);
  }
}
