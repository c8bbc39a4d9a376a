import { expandHostPattern } from './host-range.js';
import { fail, type Origin, type RawInventory } from './model.js';
import { pythonLiteral } from './py-literal.js';
import { varsProblem } from './schema.js';

/** Ansible types INI values with ast.literal_eval: `22` is 22, `True` is true, `true` stays "true". */
export function iniValue(text: string): unknown {
  try {
    return pythonLiteral(text);
  } catch {
    return text;
  }
}

/**
 * Python's shlex.split(line, comments=True), which Ansible uses on host lines: quotes group and
 * are removed, a backslash escapes, `#` outside quotes starts a comment.
 */
export function shlexSplit(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (ch === "'" || ch === '"') {
      const close = line.indexOf(ch, i + 1);
      let j = i + 1;
      if (ch === '"') {
        for (; j < line.length && line[j] !== '"'; j++) {
          if (line[j] === '\\' && (line[j + 1] === '"' || line[j + 1] === '\\')) j++;
          cur += line[j];
        }
        if (j >= line.length) throw new Error('no closing quotation');
      } else {
        if (close < 0) throw new Error('no closing quotation');
        cur += line.slice(i + 1, close);
        j = close;
      }
      i = j;
      inWord = true;
    } else if (ch === '\\') {
      if (i + 1 >= line.length) throw new Error('no escaped character');
      cur += line[++i];
      inWord = true;
    } else if (ch === '#') break;
    else if (/\s/.test(ch)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

const SECTION = /^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$/;
const GROUP_LINE = /^([^:\]\s]+)\s*(?:#.*)?$/;

interface Pending {
  kind: 'vars' | 'children';
  origin: Origin;
  parents: string[];
}

/** Adds an INI inventory ([group], [group:vars], [group:children], host key=value) to `raw`. */
export function loadIniInventory(raw: RawInventory, file: string, text: string): void {
  // Ansible refuses [x:vars] and [y:children] entries for groups never declared in the file.
  const pending = new Map<string, Pending>();
  const attach = (group: string) => {
    const p = pending.get(group);
    if (!p || p.kind !== 'children') return;
    pending.delete(group);
    for (const parent of p.parents) {
      raw.addChild(parent, group, p.origin);
      attach(parent);
    }
  };
  let group = 'ungrouped';
  let kind = 'hosts';
  text.split(/\r?\n/).forEach((rawLine, index) => {
    const origin: Origin = { file, line: index + 1 };
    const line = rawLine.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) return;
    const section = SECTION.exec(line);
    if (section) {
      group = section[1]!;
      kind = section[2] ?? 'hosts';
      if (!['hosts', 'vars', 'children'].includes(kind)) fail(origin, `section [${group}:${kind}] has an unknown type (use :vars or :children)`);
      if (!raw.groups.has(group) && kind === 'vars' && !pending.has(group)) pending.set(group, { kind: 'vars', origin, parents: [] });
      raw.group(group, origin);
      if (kind !== 'vars') {
        if (pending.get(group)?.kind === 'vars') pending.delete(group);
        else attach(group);
      }
      return;
    }
    if (line.startsWith('[')) fail(origin, `invalid section header '${line}' (no spaces inside the brackets; [name], [name:vars] or [name:children])`);

    if (kind === 'vars') {
      const eq = line.indexOf('=');
      if (eq < 0) fail(origin, `expected key=value in [${group}:vars], got '${line}'`);
      const key = line.slice(0, eq).trim();
      const value = iniValue(line.slice(eq + 1).trim());
      check({ [key]: value }, origin, `[${group}:vars]`);
      raw.setGroupVar(group, key, value, origin);
    } else if (kind === 'children') {
      const child = GROUP_LINE.exec(line)?.[1] ?? fail(origin, `expected a group name in [${group}:children], got '${line}'`);
      if (raw.groups.has(child)) raw.addChild(group, child, origin);
      else if (pending.has(child)) pending.get(child)!.parents.push(group);
      else pending.set(child, { kind: 'children', origin, parents: [group] });
    } else hostLine(raw, group, line, origin);
  });
  for (const [name, p] of pending) {
    if (p.kind === 'vars') fail(p.origin, `[${name}:vars] is for a group this file never declares: ${name}`);
    fail(p.origin, `[${p.parents[p.parents.length - 1]}:children] names a group this file never declares: ${name}`);
  }
}

function hostLine(raw: RawInventory, group: string, line: string, origin: Origin): void {
  let words: string[];
  let expanded: ReturnType<typeof expandHostPattern>;
  try {
    words = shlexSplit(line);
    expanded = expandHostPattern(words[0]!);
  } catch (err) {
    return fail(origin, `cannot read host line '${line}': ${(err as Error).message}`);
  }
  // The INI plugin's own check (the YAML plugin has none): `:::` or `fe80::` is not a host line.
  if (words[0]!.endsWith(':') && expanded.port === undefined) {
    fail(origin, `Invalid host pattern '${words[0]}' supplied, ending in ':' is not allowed, this character is reserved to provide a port.`);
  }
  const vars: Record<string, unknown> = {};
  if (expanded.port !== undefined) vars.ansible_port = expanded.port;
  for (const w of words.slice(1)) {
    const eq = w.indexOf('=');
    if (eq < 0) fail(origin, `expected key=value after the host name, got '${w}'`);
    vars[w.slice(0, eq)] = iniValue(w.slice(eq + 1));
  }
  check(vars, origin, `host ${words[0]}`);
  for (const host of expanded.hosts) {
    raw.addHost(group, host, origin);
    for (const [k, v] of Object.entries(vars)) raw.setHostVar(host, k, v, origin);
  }
}

function check(vars: Record<string, unknown>, origin: Origin, what: string): void {
  const problem = varsProblem(vars);
  if (problem) fail(origin, `${what}: ${problem.message}`);
}
