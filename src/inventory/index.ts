import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { buildInventory } from './build.js';
import { RawInventory } from './model.js';
import { loadSource } from './sources.js';
import { InventoryError, type Inventory } from './types.js';
import { applyVarsDirs } from './vars-dirs.js';

export { InventoryError, type Inventory, type InventoryGroup, type InventoryHost } from './types.js';
export { selectHosts, groupHosts, hostGroups } from './patterns.js';
export { toAnsibleList } from './ansible-list.js';

/**
 * Loads an inventory file or directory (every inventory file in it), with group_vars/ and
 * host_vars/ beside the file (or inside the directory), into hosts with merged variables.
 * Throws InventoryError, naming file and line, for anything wrong.
 */
export async function loadInventory(path: string): Promise<Inventory> {
  const full = resolve(path);
  let isDir: boolean;
  try {
    isDir = statSync(full).isDirectory();
  } catch {
    throw new InventoryError(path, undefined, 'no such inventory file or directory (set it with -i PATH or PGTASKS_INVENTORY)');
  }
  const raw = new RawInventory();
  loadSource(raw, full);
  applyVarsDirs(raw, isDir ? full : dirname(full));
  return buildInventory(raw, full);
}
