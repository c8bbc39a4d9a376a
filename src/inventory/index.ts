import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { buildInventory } from './build.js';
import { loadIniInventory } from './ini-source.js';
import { RawInventory } from './model.js';
import { applyVarsDirs } from './vars-dirs.js';
import { loadYamlInventory } from './yaml-source.js';
import { InventoryError, type Inventory } from './types.js';

export { InventoryError, type Inventory, type InventoryGroup, type InventoryHost } from './types.js';
export { selectHosts, groupHosts, hostGroups } from './patterns.js';
export { toAnsibleList } from './ansible-list.js';

/** Files Ansible skips in an inventory directory (INVENTORY_IGNORE_EXTS: even .ini, surprisingly). */
const IGNORED = /(^\.|~$|\.(pyc|pyo|swp|bak|rpm|md|txt|rst|orig|ini|cfg|retry)$)/;

function loadFile(raw: RawInventory, file: string): void {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InventoryError(file, undefined, `cannot read inventory: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  raw.sources.push(file);
  if (/\.ya?ml$/.test(file) || (/\.json$/.test(file))) loadYamlInventory(raw, file, text);
  else if (/^\s*(all|[\w-]+)\s*:\s*$/m.test(text.split('\n').find((l) => l.trim() && !l.trim().startsWith('#')) ?? '')) loadYamlInventory(raw, file, text);
  else loadIniInventory(raw, file, text);
}

/**
 * Loads an inventory file or directory (every inventory file in it), with group_vars/ and
 * host_vars/ beside it, into hosts with merged variables. Throws InventoryError for bad input.
 */
export async function loadInventory(path: string): Promise<Inventory> {
  const full = resolve(path);
  let stat;
  try {
    stat = statSync(full);
  } catch {
    throw new InventoryError(path, undefined, 'no such inventory file or directory (set it with -i PATH or PGTASKS_INVENTORY)');
  }
  const raw = new RawInventory();
  if (stat.isDirectory()) {
    const files = readdirSync(full)
      .filter((f) => !IGNORED.test(f) && f !== 'group_vars' && f !== 'host_vars')
      .map((f) => join(full, f))
      .filter((f) => statSync(f).isFile())
      .sort();
    for (const f of files) loadFile(raw, f);
    applyVarsDirs(raw, full);
  } else {
    loadFile(raw, full);
    applyVarsDirs(raw, dirname(full));
  }
  return buildInventory(raw, full);
}
