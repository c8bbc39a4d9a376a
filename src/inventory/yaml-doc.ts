import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type Tags } from 'yaml';
import type { Origin } from './model.js';
import { InventoryError } from './types.js';

export type Path = (string | number)[];

/** A parsed YAML file that can say on which line a value (or its key) sits. */
export interface YamlFile {
  file: string;
  data: unknown;
  origin(path: Path): Origin;
}

/**
 * PyYAML's YAML 1.1 differs from the yaml library's in two ways that matter here: `y`/`n` are
 * strings, not booleans, and ansible-inventory prints dates as the strings they were written as.
 */
function pyyamlTags(tags: Tags): Tags {
  return tags.map((t) => {
    if (typeof t === 'string' || t.tag !== 'tag:yaml.org,2002:bool' || !('test' in t) || !t.test) return t;
    return { ...t, test: new RegExp(t.test.source.replace('Y|y|', '').replace('N|n|', '')) };
  }).filter((t) => typeof t === 'string' || t.tag !== 'tag:yaml.org,2002:timestamp');
}

/**
 * Parses YAML as Ansible (PyYAML) reads it: YAML 1.1 (`yes` is true, `0755` is octal, `<<` merges),
 * but dates stay strings, as ansible-inventory prints them. Syntax errors name file, line and column.
 */
export function parseYaml(file: string, text: string): YamlFile {
  const lines = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter: lines,
    version: '1.1',
    customTags: pyyamlTags,
  });
  const err = doc.errors[0];
  if (err) {
    const pos = err.linePos?.[0];
    throw new InventoryError(file, pos ? `${pos.line}:${pos.col}` : undefined, `YAML syntax error: ${err.message.split('\n')[0]}`);
  }
  const data = doc.toJS({ maxAliasCount: 1000 }) as unknown;
  const origin = (path: Path): Origin => {
    const offset = offsetOf(doc, path);
    // locate: a value's parts have lines of their own (pg_registry.port is below pg_registry).
    const locate = (sub: Path) => origin([...path, ...sub]);
    return offset === undefined ? { file, locate } : { file, line: lines.linePos(offset).line, locate };
  };
  return { file, data, origin };
}

/** The offset of the key naming `path` (or of the value, for sequence items); undefined if not found. */
function offsetOf(doc: Document, path: Path): number | undefined {
  let node: unknown = doc.contents;
  let offset = (node as Node | null)?.range?.[0];
  for (const step of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(step));
      if (!pair) return offset;
      offset = (pair.key as Node | null)?.range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof step === 'number') {
      node = node.items[step];
      offset = (node as Node | null)?.range?.[0] ?? offset;
    } else return offset;
  }
  return offset;
}
