import { isAlias, isMap, isScalar, isSeq, Scalar, type Document, type LineCounter, type Node, type YAMLMap } from 'yaml';
import { construct, jsonKey, keyIdentity, NONE, resolvePlain, ScalarError, str, type PyScalar } from './py-scalars.js';

/**
 * A YAML document as ansible-core's loader builds it (PyYAML's SafeConstructor under AnsibleConstructor),
 * with the line of every key and item. Mappings keep their keys' source order and Python types, so the
 * inventory can walk hosts in the order they are written and refuse a host named 16 as Ansible does.
 */
export type YNode = YMap | YSeq | YLeaf;

export interface YLeaf {
  type: 'scalar';
  scalar: PyScalar;
  line: number;
}

export interface YSeq {
  type: 'seq';
  items: YNode[];
  line: number;
}

export interface YMap {
  type: 'map';
  /** One entry per distinct key, in Python dict order: where the key first appeared, with the last value. */
  entries: YEntry[];
  line: number;
}

export interface YEntry {
  key: PyScalar;
  /** The key as ansible-inventory prints it (json.dumps: True → "true", 16 → "16"). */
  name: string;
  value: YNode;
  /** The line of the key whose value won. */
  line: number;
}

/** Something the loader refuses, at a line (and column, when known). */
export class YamlConstructError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

// Past this many values (aliases counted every time they are used), a file is an alias bomb, not an inventory.
const MAX_EXPANDED = 1_000_000;

const YAML_TAG = 'tag:yaml.org,2002:';

interface Pair {
  key: unknown;
  value: unknown;
  merged: boolean;
}

/** Builds the tree of `doc` (already free of syntax errors). JSON files are typed as json.loads types them. */
export function buildTree(doc: Document, lines: LineCounter, json: boolean): YNode | undefined {
  const built = new Map<Node, YNode>();
  const building = new Set<Node>();
  const lineOf = (n: unknown, fallback = 1): number => {
    const offset = (n as Node | null)?.range?.[0];
    return offset === undefined ? fallback : lines.linePos(offset).line;
  };
  const fail = (n: unknown, message: string, fallback?: number): never => {
    throw new YamlConstructError(lineOf(n, fallback), message);
  };
  const deref = (n: unknown): unknown => {
    if (!isAlias(n)) return n;
    return n.resolve(doc) ?? fail(n, `unknown alias *${n.source}`);
  };

  const scalarOf = (n: Scalar): PyScalar => {
    const text = n.value === null || n.value === undefined ? '' : String(n.value);
    const plain = n.type === Scalar.PLAIN;
    if (json) return plain ? jsonScalar(text) : str(text);
    const tag = n.tag;
    if (tag === undefined || tag === '!') {
      if (!plain) return str(text);
      const resolved = resolvePlain(text);
      // `<<` and `=` resolve to tags with no constructor: as keys they are handled by the mapping (nodeOf refuses them as values).
      return resolved === 'merge' || resolved === 'value' ? str(text) : typed(n, resolved, text);
    }
    if (tag === '!unsafe' || tag === `${YAML_TAG}python/unicode`) return str(text);
    if (tag === '!vault' || tag === '!vault-encrypted')
      return fail(n, 'a !vault value: pgtasks cannot decrypt Ansible Vault; give the value in clear or leave it out');
    if (tag.startsWith(YAML_TAG) && ['str', 'int', 'float', 'bool', 'null', 'timestamp'].includes(tag.slice(YAML_TAG.length)))
      return typed(n, tag.slice(YAML_TAG.length), text);
    return fail(n, `could not determine a constructor for the tag '${tag}'`);
  };
  const typed = (n: Node, tag: string, text: string): PyScalar => {
    try {
      return construct(tag, text);
    } catch (err) {
      if (err instanceof ScalarError) return fail(n, err.message);
      throw err;
    }
  };

  /** PyYAML's flatten_mapping: `<<` pairs replaced by the merged mappings' pairs, put first. */
  const flatten = (map: YAMLMap): Pair[] => {
    const merged: Pair[] = [];
    const own: Pair[] = [];
    for (const p of map.items) {
      const k = p.key;
      const isMerge =
        !json && isScalar(k) && (k.tag === `${YAML_TAG}merge` || (k.type === Scalar.PLAIN && (k.tag === undefined || k.tag === '!') && k.value === '<<'));
      if (!isMerge) {
        own.push({ key: k, value: p.value, merged: false });
        continue;
      }
      const v = deref(p.value);
      if (isMap(v)) merged.push(...flatten(v).map((q) => ({ ...q, merged: true })));
      else if (isSeq(v)) {
        const each = v.items.map((item) => {
          const m = deref(item);
          return isMap(m) ? flatten(m) : fail(item, `expected a mapping for merging, but found ${kindName(m)}`);
        });
        for (const pairs of each.reverse()) merged.push(...pairs.map((q) => ({ ...q, merged: true })));
      } else fail(p.value ?? k, `expected a mapping or list of mappings for merging, but found ${kindName(v)}`);
    }
    return [...merged, ...own];
  };

  const keyOf = (k: unknown, fallbackLine: number): PyScalar => {
    const n = deref(k);
    if (n === null || n === undefined) return NONE;
    if (isMap(n) || isSeq(n)) return fail(k, `found unacceptable key (unhashable type: '${isMap(n) ? 'AnsibleMapping' : 'AnsibleSequence'}')`, fallbackLine);
    // flatten_mapping turns a `=` key (the value tag) into a string, as scalarOf does.
    return scalarOf(n as Scalar);
  };

  const mapOf = (n: YAMLMap): YMap => {
    const line = lineOf(n);
    const entries = new Map<string, YEntry>();
    const ownLines = new Map<string, number>();
    for (const p of flatten(n)) {
      const keyLine = lineOf(p.key, lineOf(p.value, line));
      const key = keyOf(p.key, keyLine);
      const id = keyIdentity(key);
      if (!p.merged) {
        const first = ownLines.get(id);
        if (first !== undefined) fail(p.key, `duplicate key ${key.str} (first at line ${first}): YAML keeps only the last value; write each key once`, keyLine);
        ownLines.set(id, keyLine);
      }
      const value = nodeOf(p.value, keyLine);
      const existing = entries.get(id);
      if (existing) Object.assign(existing, { value, line: keyLine });
      else entries.set(id, { key, name: jsonKey(key), value, line: keyLine });
    }
    return { type: 'map', entries: [...entries.values()], line };
  };

  const nodeOf = (raw: unknown, fallbackLine: number): YNode => {
    const n = deref(raw);
    if (n === null || n === undefined) return { type: 'scalar', scalar: NONE, line: fallbackLine };
    const node = n as Node;
    const done = built.get(node);
    if (done) return done;
    if (building.has(node)) fail(raw, 'an alias inside the value it names (a recursive structure)');
    building.add(node);
    let out: YNode;
    if (isMap(node)) {
      checkCollectionTag(node, 'map');
      out = mapOf(node);
    } else if (isSeq(node)) {
      checkCollectionTag(node, 'seq');
      out = { type: 'seq', items: node.items.map((item) => nodeOf(item, lineOf(node))), line: lineOf(node) };
    } else {
      const s = scalarOf(node as Scalar);
      // The merge and value tags have no constructor: PyYAML refuses `a: <<` and `a: =`.
      if (s.kind === 'str' && node.tag === undefined && (node as Scalar).type === Scalar.PLAIN && !json) {
        const tag = resolvePlain(s.value as string);
        if (tag === 'merge' || tag === 'value') fail(node, `could not determine a constructor for the tag '${YAML_TAG}${tag}'`);
      }
      out = { type: 'scalar', scalar: s, line: lineOf(node) };
    }
    building.delete(node);
    built.set(node, out);
    return out;
  };

  const checkCollectionTag = (n: Node, kind: 'map' | 'seq') => {
    const tag = n.tag;
    const ok = [undefined, '!', '!unsafe', `${YAML_TAG}${kind}`, ...(kind === 'map' ? [`${YAML_TAG}python/dict`] : [])];
    if (!ok.includes(tag))
      fail(
        n,
        `could not determine a constructor for the tag '${tag}'${['set', 'omap', 'pairs'].some((t) => tag === YAML_TAG + t) ? ' (not in an inventory: ansible-inventory cannot print it either)' : ''}`,
      );
  };

  if (doc.contents === null) return undefined;
  const root = nodeOf(doc.contents, 1);
  if (expandedSize(root) > MAX_EXPANDED) throw new YamlConstructError(root.line, `aliases expand to more than ${MAX_EXPANDED} values`);
  return root;
}

function kindName(n: unknown): string {
  return isMap(n) ? 'mapping' : isSeq(n) ? 'sequence' : 'scalar';
}

/** json.loads' types: numbers with a fraction or exponent are floats. */
function jsonScalar(text: string): PyScalar {
  if (text === 'true' || text === 'false') return { kind: 'bool', value: text === 'true', str: text === 'true' ? 'True' : 'False' };
  if (text === 'null') return NONE;
  if (/^-?(?:0|[1-9][0-9]*)$/.test(text)) return { kind: 'int', value: Number(text), str: BigInt(text).toString() };
  return construct('float', text);
}

/** How many values the tree has once every alias is written out (what a JSON dump would hold). */
function expandedSize(root: YNode): number {
  const sizes = new Map<YNode, number>();
  const size = (n: YNode): number => {
    const known = sizes.get(n);
    if (known !== undefined) return known;
    const s = n.type === 'map' ? n.entries.reduce((t, e) => t + size(e.value), 1) : n.type === 'seq' ? n.items.reduce((t, i) => t + size(i), 1) : 1;
    sizes.set(n, s);
    return s;
  };
  return size(root);
}

/** Plain JS data (what the variables hold): mappings as objects keyed as ansible-inventory prints them. */
export function toPlain(node: YNode | undefined): unknown {
  const done = new Map<YNode, unknown>();
  const plain = (n: YNode): unknown => {
    const known = done.get(n);
    if (known !== undefined) return known;
    let out: unknown;
    if (n.type === 'scalar') out = n.scalar.value;
    else if (n.type === 'seq') out = n.items.map(plain);
    else {
      const obj: Record<string, unknown> = {};
      // defineProperty: a key named __proto__ is data, not the object's prototype.
      for (const e of n.entries) Object.defineProperty(obj, e.name, { value: plain(e.value), enumerable: true, writable: true, configurable: true });
      out = obj;
    }
    done.set(n, out);
    return out;
  };
  return node === undefined ? null : plain(node);
}
