import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';
import { fail, type Origin, type RawInventory } from './model.js';
import { varsProblem } from './schema.js';
import { InventoryError } from './types.js';
import { parseYaml } from './yaml-doc.js';

const EXTENSIONS = ['', '.yml', '.yaml', '.json'];

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

interface VarsFile {
  vars: Record<string, unknown>;
  origins: Record<string, Origin>;
}

function readVarsFile(file: string): VarsFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InventoryError(file, undefined, `cannot read variables file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const y = parseYaml(file, text);
  if (y.data === null || y.data === undefined) return { vars: {}, origins: {} };
  if (typeof y.data !== 'object' || Array.isArray(y.data)) fail(y.origin([]), 'a variables file must be a mapping of variable names to values');
  const problem = varsProblem(y.data);
  if (problem) fail(y.origin(problem.path), `${problem.path.join('.')}: ${problem.message}`);
  const vars = y.data as Record<string, unknown>;
  return { vars, origins: Object.fromEntries(Object.keys(vars).map((k) => [k, y.origin([k])])) };
}

/** Ansible's _get_dir_vars_files: sorted, recursive into extension-less dirs, no hidden or backup files. */
function dirFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .filter((f) => !f.startsWith('.') && !f.endsWith('~'))
    .flatMap((f) => {
      const path = join(dir, f);
      const ext = /\.[^.]*$/.exec(f)?.[0] ?? '';
      if (isDir(path)) return ext ? [] : dirFiles(path);
      return EXTENSIONS.includes(ext) ? [path] : [];
    });
}

/**
 * Ansible's find_vars_files: the first of <name>, <name>.yml, <name>.yaml, <name>.json that exists
 * (a directory's files merged in lexical order); the others are ignored, as Ansible ignores them.
 */
export function varsFor(dir: string, name: string): VarsFile | undefined {
  if (name.startsWith(sep)) return undefined;
  for (const ext of EXTENSIONS) {
    const path = join(dir, name + ext);
    let files: string[];
    try {
      files = statSync(path).isDirectory() ? dirFiles(path) : [path];
    } catch {
      continue;
    }
    const read = files.map(readVarsFile);
    return { vars: Object.assign({}, ...read.map((r) => r.vars)), origins: Object.assign({}, ...read.map((r) => r.origins)) };
  }
  return undefined;
}

/** Applies group_vars/ and host_vars/ found in `base` (beside an inventory file, or in its directory). */
export function applyVarsDirs(raw: RawInventory, base: string): void {
  const groupDir = join(base, 'group_vars');
  const hostDir = join(base, 'host_vars');
  const apply = (into: { fileVars: Record<string, unknown>; fileVarOrigins: Record<string, Origin> }, found: VarsFile | undefined) => {
    Object.assign(into.fileVars, found?.vars);
    Object.assign(into.fileVarOrigins, found?.origins);
  };
  if (isDir(groupDir)) for (const g of raw.groups.values()) apply(g, varsFor(groupDir, g.name));
  if (isDir(hostDir)) for (const h of raw.hosts.values()) apply(h, varsFor(hostDir, h.name));
}
