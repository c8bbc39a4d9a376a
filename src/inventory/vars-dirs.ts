import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { RawInventory } from './model.js';
import { connectionVarProblem } from './schema.js';
import { InventoryError } from './types.js';
import { isPlainObject } from './yaml-source.js';

const VAR_FILE = /\.(ya?ml|json)$|^[^.]+$/;

function readVarsFile(file: string): Record<string, unknown> {
  let data: unknown;
  try {
    data = parse(readFileSync(file, 'utf8'), { version: '1.1' });
  } catch (err) {
    const e = err as { linePos?: { line: number; col: number }[]; message: string };
    throw new InventoryError(file, e.linePos?.[0] ? `${e.linePos[0].line}:${e.linePos[0].col}` : undefined, `YAML syntax error: ${e.message.split('\n')[0]}`);
  }
  if (data === null || data === undefined) return {};
  if (!isPlainObject(data)) throw new InventoryError(file, undefined, 'a variables file must be a mapping');
  const problem = connectionVarProblem(data);
  if (problem) throw new InventoryError(file, problem[0], problem[1]);
  return data;
}

/** group_vars/<name>{,.yml,.yaml,.json} and group_vars/<name>/ (files merged in lexical order). */
function varsFor(dir: string, name: string): Record<string, unknown> | undefined {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return undefined;
  }
  const matches = entries.filter((e) => e === name || e.replace(/\.(ya?ml|json)$/, '') === name).sort();
  if (!matches.length) return undefined;
  const vars: Record<string, unknown> = {};
  for (const m of matches) {
    const path = join(dir, m);
    if (statSync(path).isDirectory()) {
      for (const f of readdirSync(path).filter((f) => VAR_FILE.test(f) && !f.startsWith('.')).sort()) Object.assign(vars, readVarsFile(join(path, f)));
    } else Object.assign(vars, readVarsFile(path));
  }
  return vars;
}

/** Applies group_vars/ and host_vars/ found in `base` (beside an inventory file, or in its directory). */
export function applyVarsDirs(raw: RawInventory, base: string): void {
  for (const g of raw.groups.values()) {
    const v = varsFor(join(base, 'group_vars'), g.name);
    if (v) Object.assign(g.fileVars, v);
  }
  for (const h of raw.hosts.values()) {
    const v = varsFor(join(base, 'host_vars'), h.name);
    if (v) Object.assign(h.fileVars, v);
  }
}
