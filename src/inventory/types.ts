import { UserError } from '../errors.js';

/** Where something was defined, for error messages. */
export interface Origin {
  file: string;
  line?: number;
  /** Where a part of the value sits (`['port']` of a mapping, `[0, 'method']` of a list); YAML only. */
  locate?: (path: (string | number)[]) => Origin;
}

export interface InventoryHost {
  name: string;
  /** Fully merged variables, by Ansible's precedence. */
  vars: Record<string, unknown>;
  /** Where each variable's winning value was set (absent for inventories built in code). */
  origins?: Record<string, Origin>;
}

export interface InventoryGroup {
  name: string;
  /** Direct member hosts, in the order they were added. */
  hosts: string[];
  /** Direct child groups, in the order they were added. */
  children: string[];
  /** The group's own variables (inventory file, then group_vars/ on top). */
  vars: Record<string, unknown>;
  origins?: Record<string, Origin>;
}

export interface Inventory {
  sources: string[];
  /**
   * The inventory's folder: the folder of the file given with -i, or that directory itself. Relative
   * paths in pg_* variables are resolved against it (absent for inventories built in code: the cwd).
   */
  dir?: string;
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

/** Every problem found with the pg_* variables, one per line, each naming its file and line. */
export class InventoryProblems extends UserError {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'InventoryProblems';
  }
}
