import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { buildInventory } from './build.js';
import { RawInventory } from './model.js';
import { loadSource } from './sources.js';
import { clusterProblemList } from '../cluster/cluster-problems.js';
import { definitionProblems, problemLines } from '../cluster/value-problems.js';
import { InventoryError, InventoryProblems, type Inventory } from './types.js';
import { applyVarsDirs } from './vars-dirs.js';

export { InventoryError, InventoryProblems, type Inventory, type InventoryGroup, type InventoryHost, type Origin } from './types.js';
export { selectHosts, groupHosts, hostGroups } from './patterns.js';
export { toAnsibleList } from './ansible-list.js';
export { ansibleJson } from './ansible-json.js';

/**
 * Loads an inventory file or directory (every inventory file in it), with group_vars/ and
 * host_vars/ beside the file (or inside the directory), into hosts with merged variables.
 * Throws InventoryError, naming file and line, for anything wrong with its structure, and
 * InventoryProblems, one line per problem, for the pg_* variables.
 */
export async function loadInventory(path: string): Promise<Inventory> {
  const full = resolve(path);
  let isDir: boolean;
  try {
    isDir = statSync(full).isDirectory();
  } catch {
    throw new InventoryError(path, undefined, 'no such inventory file or directory (set it with -i PATH or PGTASKS_INVENTORY)');
  }
  const dir = isDir ? full : dirname(full);
  const raw = new RawInventory();
  loadSource(raw, full);
  applyVarsDirs(raw, dir);
  const inventory = buildInventory(raw, full, dir);
  // Every pg_* value is checked here, before any task can contact a host, and all problems are told at once.
  const problems = problemLines([...definitionProblems(raw.definitions()), ...clusterProblemList(inventory)], raw.sources);
  if (problems.length) throw new InventoryProblems(problems);
  return inventory;
}
