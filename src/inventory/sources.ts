import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { loadIniInventory } from './ini-source.js';
import type { RawInventory } from './model.js';
import { InventoryError } from './types.js';
import { isYamlMapping } from './yaml-doc.js';
import { loadYamlInventory } from './yaml-source.js';

/**
 * Names Ansible skips in an inventory directory: hidden files, the vars directories, and
 * INVENTORY_IGNORE_EXTS — which includes .ini, surprisingly, so a directory's INI files have no extension.
 */
const IGNORED = /^\.|^host_vars$|^group_vars$|^vars_plugins$|(\.pyc|\.pyo|\.swp|\.bak|~|\.rpm|\.md|\.txt|\.rst|\.orig|\.ini|\.cfg|\.retry)$/;

/**
 * Ansible tries its YAML plugin on .yml/.yaml/.json and extension-less files, and its INI plugin on
 * whatever YAML could not read. We decide once: by extension, else by whether the text parses as a
 * YAML mapping (an INI file never does: `[db]` opens a flow sequence, `host a=1` is a plain string).
 */
function isYaml(file: string, text: string): boolean {
  const ext = extname(file);
  if (['.yml', '.yaml', '.json'].includes(ext)) return true;
  return !ext && isYamlMapping(text);
}

function loadFile(raw: RawInventory, file: string): void {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InventoryError(file, undefined, `cannot read inventory: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  raw.sources.push(file);
  if (isYaml(file, text)) loadYamlInventory(raw, file, text);
  else loadIniInventory(raw, file, text);
}

/** An inventory file, or every inventory file of a directory (sorted, recursively), as Ansible reads them. */
export function loadSource(raw: RawInventory, path: string): void {
  if (!statSync(path).isDirectory()) return loadFile(raw, path);
  for (const name of readdirSync(path).sort()) {
    if (IGNORED.test(name) || isCredentialsDir(join(path, name))) continue;
    loadSource(raw, join(path, name));
  }
}

/**
 * pgtasks' credentials folder (pg_credentials_dir, by default `credentials/` beside the inventory):
 * inside a directory inventory its password files would otherwise be read as inventory files, and a
 * password would become a host name in output and an SSH target. It is marked when created.
 */
export const CREDENTIALS_MARKER = '.pgtasks-credentials';
function isCredentialsDir(path: string): boolean {
  return (basename(path) === 'credentials' && statSync(path).isDirectory()) || existsSync(join(path, CREDENTIALS_MARKER));
}
