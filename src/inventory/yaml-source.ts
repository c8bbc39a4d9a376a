import { isMap, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import type { RawInventory } from './model.js';
import { connectionVarProblem } from './schema.js';
import { InventoryError } from './types.js';

type Path = (string | number)[];

/** Adds a YAML inventory (Ansible's format: all/hosts/vars/children, nested) to `raw`. */
export function loadYamlInventory(raw: RawInventory, file: string, text: string): void {
  const lines = new LineCounter();
  // YAML 1.1, as Ansible (PyYAML) reads it: `yes`/`no` are booleans.
  const doc = parseDocument(text, { lineCounter: lines, version: '1.1' });
  const lineOf = (path: Path): string | undefined => {
    const node = doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
    const keyNode = path.length ? findKeyNode(doc, path) : undefined;
    const offset = keyNode?.range?.[0] ?? node?.range?.[0];
    return offset === undefined ? undefined : String(lines.linePos(offset).line);
  };
  const fail = (path: Path, what: string): never => {
    const line = lineOf(path);
    throw new InventoryError(file, line ? `${line}` : undefined, `${path.join('.')}: ${what}`);
  };
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const pos = e.linePos?.[0];
    throw new InventoryError(file, pos ? `${pos.line}:${pos.col}` : undefined, `YAML syntax error: ${e.message.split('\n')[0]}`);
  }
  const root = doc.toJS() as unknown;
  if (root === null || root === undefined) return;
  if (!isPlainObject(root)) fail([], 'an inventory must be a mapping of groups (e.g. all:)');

  const visitGroup = (name: string, body: unknown, path: Path, parent?: string): undefined => {
    raw.group(name);
    if (parent) raw.addChild(parent, name);
    if (body === null || body === undefined) return;
    if (!isPlainObject(body)) return fail(path, `group ${name} must be a mapping with hosts, vars or children`);
    for (const key of Object.keys(body)) {
      if (!['hosts', 'vars', 'children'].includes(key)) fail([...path, key], `unknown key '${key}' (a group has hosts, vars and children)`);
    }
    if (body.vars !== undefined && body.vars !== null) {
      const vars = body.vars;
      if (!isPlainObject(vars)) return fail([...path, 'vars'], 'must be a mapping of variables');
      const problem = connectionVarProblem(vars);
      if (problem) fail([...path, 'vars', problem[0]], problem[1]);
      raw.setGroupVars(name, vars, { file, where: lineOf([...path, 'vars']) });
    }
    if (body.hosts !== undefined && body.hosts !== null) {
      if (!isPlainObject(body.hosts)) fail([...path, 'hosts'], 'must be a mapping of host names (to their variables or nothing)');
      for (const [host, vars] of Object.entries(body.hosts)) {
        const hostPath = [...path, 'hosts', host];
        if (vars !== null && vars !== undefined && !isPlainObject(vars)) fail(hostPath, 'host variables must be a mapping');
        const hv = (vars ?? {}) as Record<string, unknown>;
        const problem = connectionVarProblem(hv);
        if (problem) fail([...hostPath, problem[0]], problem[1]);
        raw.addHost(name, host, hv, { file, where: lineOf(hostPath) });
      }
    }
    if (body.children !== undefined && body.children !== null) {
      if (!isPlainObject(body.children)) fail([...path, 'children'], 'must be a mapping of group names');
      for (const [child, childBody] of Object.entries(body.children)) visitGroup(child, childBody, [...path, 'children', child], name);
    }
  };
  for (const [name, body] of Object.entries(root as Record<string, unknown>)) {
    visitGroup(name, body, [name]); // parentless groups join 'all' when the inventory is built
  }
}

function findKeyNode(doc: Document, path: Path): { range?: [number, number, number] } | undefined {
  const parent = doc.getIn(path.slice(0, -1), true);
  if (!isMap(parent)) return undefined;
  const last = path[path.length - 1];
  const pair = parent.items.find((p) => isScalar(p.key) && String(p.key.value) === String(last));
  return pair?.key as { range?: [number, number, number] } | undefined;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
