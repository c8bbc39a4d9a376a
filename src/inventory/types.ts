import { UserError } from '../errors.js';

export interface InventoryHost {
  name: string;
  /** Fully merged variables, by Ansible's precedence. */
  vars: Record<string, unknown>;
}

export interface InventoryGroup {
  name: string;
  /** Direct member hosts, in the order they were added. */
  hosts: string[];
  /** Direct child groups, in the order they were added. */
  children: string[];
  /** The group's own variables (inventory file, then group_vars/ on top). */
  vars: Record<string, unknown>;
}

export interface Inventory {
  sources: string[];
  /** In inventory order: the order hosts first appear. */
  hosts: Map<string, InventoryHost>;
  /** Always holds 'all' and 'ungrouped', as in Ansible. */
  groups: Map<string, InventoryGroup>;
}

/** A bad inventory: names the file, where in it (line or variable path), and what is wrong. */
export class InventoryError extends UserError {
  constructor(
    readonly file: string,
    readonly where: string | undefined,
    what: string,
  ) {
    super(`${file}${where ? `:${where}` : ''}: ${what}`);
    this.name = 'InventoryError';
  }
}
