import type { RawInventory } from './model.js';
import { connectionVarProblem, GROUP_NAME } from './schema.js';
import { InventoryError } from './types.js';

/**
 * Ansible's INI values: Python literals (numbers, True/False, quoted strings, lists) become typed
 * values, anything else stays a string — so `port=22` is 22 and `flag=true` is "true", as in Ansible.
 */
export function iniValue(text: string): unknown {
  const t = text.trim();
  if (/^-?\d+$/.test(t)) return Number(t);
  if (/^-?\d+\.\d*$/.test(t)) return Number(t);
  if (t === 'True' || t === 'False') return t === 'True';
  if (t === 'None') return null;
  if ((t.startsWith('"') && t.endsWith('"') && t.length >= 2) || (t.startsWith("'") && t.endsWith("'") && t.length >= 2)) return t.slice(1, -1);
  if ((t.startsWith('[') && t.endsWith(']')) || (t.startsWith('{') && t.endsWith('}'))) {
    try {
      return JSON.parse(t.replace(/'/g, '"').replace(/\bTrue\b/g, 'true').replace(/\bFalse\b/g, 'false').replace(/\bNone\b/g, 'null'));
    } catch {
      return t;
    }
  }
  return t;
}

/** Splits `host a=1 b="x y"` the way shlex does for Ansible: quotes group, and are kept for iniValue. */
export function splitIniLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | undefined;
  for (const ch of line) {
    if (quote) {
      cur += ch;
      if (ch === quote) quote = undefined;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      cur += ch;
    } else if (/\s/.test(ch)) {
      if (cur) out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur) out.push(cur);
  return out;
}

/** db[01:03] → db01, db02, db03 (Ansible's numeric and alphabetic host ranges). */
export function expandHostRange(pattern: string): string[] {
  const m = /^(.*?)\[([0-9a-z]+):([0-9a-z]+)(?::(\d+))?\](.*)$/.exec(pattern);
  if (!m) return [pattern];
  const [, head, from, to, stepText, tail] = m as unknown as [string, string, string, string, string | undefined, string];
  const step = stepText ? Number(stepText) : 1;
  const out: string[] = [];
  if (/^\d+$/.test(from) && /^\d+$/.test(to)) {
    const width = from.startsWith('0') ? from.length : 0;
    for (let i = Number(from); i <= Number(to); i += step) out.push(...expandHostRange(`${head}${String(i).padStart(width, '0')}${tail}`));
  } else {
    for (let c = from.charCodeAt(0); c <= to.charCodeAt(0); c += step) out.push(...expandHostRange(`${head}${String.fromCharCode(c)}${tail}`));
  }
  return out;
}

function parseAssignments(words: string[], file: string, line: number): Record<string, unknown> {
  const vars: Record<string, unknown> = {};
  for (const w of words) {
    const i = w.indexOf('=');
    if (i <= 0) throw new InventoryError(file, String(line), `expected key=value, got '${w}'`);
    vars[w.slice(0, i)] = iniValue(w.slice(i + 1));
  }
  return vars;
}

/** Adds an INI inventory ([group], [group:vars], [group:children], host key=value) to `raw`. */
export function loadIniInventory(raw: RawInventory, file: string, text: string): void {
  let group = 'ungrouped';
  let kind: 'hosts' | 'vars' | 'children' = 'hosts';
  text.split('\n').forEach((rawLine, index) => {
    const lineNo = index + 1;
    const line = rawLine.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) return;
    const section = /^\[([^\]]+)\]$/.exec(line);
    if (section) {
      const [name, suffix] = section[1]!.split(':') as [string, string | undefined];
      if (!GROUP_NAME.test(name)) throw new InventoryError(file, String(lineNo), `invalid group name '${name}'`);
      if (suffix && suffix !== 'vars' && suffix !== 'children') throw new InventoryError(file, String(lineNo), `unknown section type ':${suffix}' (use :vars or :children)`);
      group = name;
      kind = (suffix as 'vars' | 'children' | undefined) ?? 'hosts';
      raw.group(group);
      return;
    }
    if (line.startsWith('[')) throw new InventoryError(file, String(lineNo), `malformed section header '${line}'`);
    const words = splitIniLine(line);
    if (kind === 'children') {
      raw.addChild(group, words[0]!);
      return;
    }
    if (kind === 'vars') {
      const vars = parseAssignments(words, file, lineNo);
      const problem = connectionVarProblem(vars);
      if (problem) throw new InventoryError(file, String(lineNo), `[${group}:vars] ${problem[1]}`);
      raw.setGroupVars(group, vars, { file, where: String(lineNo) });
      return;
    }
    const vars = parseAssignments(words.slice(1), file, lineNo);
    const problem = connectionVarProblem(vars);
    if (problem) throw new InventoryError(file, String(lineNo), `host ${words[0]}: ${problem[1]}`);
    for (const host of expandHostRange(words[0]!)) raw.addHost(group, host, vars, { file, where: String(lineNo) });
  });
}
