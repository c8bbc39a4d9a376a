import { InventoryError } from './types.js';

/** Where a value was defined, for error messages. */
export interface Origin {
  file: string;
  where?: string;
}

export interface RawGroup {
  name: string;
  hosts: string[];
  children: string[];
  vars: Record<string, unknown>;
  varOrigins: Record<string, Origin>;
  /** group_vars/ files: above every inventory-file group var (Ansible's precedence). */
  fileVars: Record<string, unknown>;
}

export interface RawHost {
  name: string;
  vars: Record<string, unknown>;
  varOrigins: Record<string, Origin>;
  fileVars: Record<string, unknown>;
}

/**
 * The inventory as the sources declare it, before variables are merged. Sources add to it in
 * order; it enforces what Ansible silently accepts but we refuse (conflicting host definitions).
 */
export class RawInventory {
  readonly groups = new Map<string, RawGroup>();
  readonly hosts = new Map<string, RawHost>();
  /** Creation order of groups: ansible-inventory lists all's children in this order. */
  readonly groupOrder: string[] = [];
  readonly sources: string[] = [];

  constructor() {
    this.group('all');
    // As in Ansible's InventoryData: 'ungrouped' is all's first child from the start.
    this.addChild('all', 'ungrouped');
  }

  group(name: string): RawGroup {
    let g = this.groups.get(name);
    if (!g) {
      g = { name, hosts: [], children: [], vars: {}, varOrigins: {}, fileVars: {} };
      this.groups.set(name, g);
      this.groupOrder.push(name);
    }
    return g;
  }

  addHost(group: string, host: string, vars: Record<string, unknown>, origin: Origin): void {
    let h = this.hosts.get(host);
    if (!h) {
      h = { name: host, vars: {}, varOrigins: {}, fileVars: {} };
      this.hosts.set(host, h);
    }
    for (const [k, v] of Object.entries(vars)) {
      if (k in h.vars && JSON.stringify(h.vars[k]) !== JSON.stringify(v)) {
        const first = h.varOrigins[k]!;
        throw new InventoryError(origin.file, origin.where, `host ${host} is defined twice with different values for ${k}: ${JSON.stringify(h.vars[k])} (${first.file}${first.where ? `:${first.where}` : ''}) and ${JSON.stringify(v)}; define its variables once`);
      }
      h.vars[k] = v;
      h.varOrigins[k] = origin;
    }
    const g = this.group(group);
    if (!g.hosts.includes(host)) g.hosts.push(host);
  }

  addChild(parent: string, child: string): void {
    const p = this.group(parent);
    this.group(child);
    if (!p.children.includes(child)) p.children.push(child);
  }

  setGroupVars(group: string, vars: Record<string, unknown>, origin: Origin): void {
    const g = this.group(group);
    for (const [k, v] of Object.entries(vars)) {
      if (k in g.vars && JSON.stringify(g.vars[k]) !== JSON.stringify(v)) {
        const first = g.varOrigins[k]!;
        throw new InventoryError(origin.file, origin.where, `group ${group} sets ${k} twice with different values: ${JSON.stringify(g.vars[k])} (${first.file}${first.where ? `:${first.where}` : ''}) and ${JSON.stringify(v)}`);
      }
      g.vars[k] = v;
      g.varOrigins[k] = origin;
    }
  }
}
