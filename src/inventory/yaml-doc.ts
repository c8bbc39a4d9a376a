import { isMap, LineCounter, parseDocument, type Document } from 'yaml';
import type { Origin } from './model.js';
import { InventoryError } from './types.js';
import { buildTree, toPlain, YamlConstructError, type YNode } from './yaml-tree.js';

export type Path = (string | number)[];

/** A parsed YAML file that can say on which line a value (or its key) sits. */
export interface YamlFile {
  file: string;
  /** The document as plain data (undefined-free): what variables hold. */
  data: unknown;
  /** The document with key order, Python key types and lines: what the inventory walks. */
  tree: YNode | undefined;
  origin(path: Path): Origin;
}

/**
 * The yaml package reads the syntax only: every scalar stays text ('failsafe'), keys may repeat and
 * `<<` is an ordinary key, because buildTree types them as PyYAML does.
 */
function syntax(text: string, lines?: LineCounter): Document {
  return parseDocument(text, { version: '1.1', schema: 'failsafe', uniqueKeys: false, merge: false, lineCounter: lines });
}

/** Whether an extension-less file is a YAML mapping (an INI file never is: `[db]` is a list, `h1 a=1` a string). */
export function isYamlMapping(text: string): boolean {
  const doc = syntax(text);
  return doc.errors.length === 0 && isMap(doc.contents);
}

/**
 * Reads a file as ansible-core's DataLoader does: as JSON if json.loads can, else as YAML 1.1 through
 * PyYAML's resolver (see py-scalars.ts). Every failure names the file and line (and column, for syntax).
 */
export function parseYaml(file: string, text: string): YamlFile {
  const lines = new LineCounter();
  const doc = syntax(text, lines);
  const err = doc.errors[0];
  if (err) {
    const pos = err.linePos?.[0];
    throw new InventoryError(file, pos ? `${pos.line}:${pos.col}` : undefined, `YAML syntax error: ${err.message.split('\n')[0]}`);
  }
  let tree: YNode | undefined;
  try {
    tree = buildTree(doc, lines, isJson(text));
  } catch (e) {
    if (e instanceof YamlConstructError) throw new InventoryError(file, String(e.line), `cannot read YAML: ${e.message}`);
    throw e;
  }
  const origin = (path: Path): Origin => {
    // locate: a value's parts have lines of their own (pg_registry.port is below pg_registry).
    const locate = (sub: Path) => origin([...path, ...sub]);
    const line = lineOf(tree, path);
    return line === undefined ? { file, locate } : { file, line, locate };
  };
  return { file, data: toPlain(tree), tree, origin };
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** The line of the key naming `path` (or of the item, in a sequence); the nearest known line if not found. */
function lineOf(tree: YNode | undefined, path: Path): number | undefined {
  let node = tree;
  let line = tree?.line;
  for (const step of path) {
    if (node?.type === 'map') {
      const entry = node.entries.find((e) => e.name === String(step));
      if (!entry) return line;
      line = entry.line;
      node = entry.value;
    } else if (node?.type === 'seq' && typeof step === 'number' && node.items[step]) {
      node = node.items[step];
      line = node.line;
    } else return line;
  }
  return line;
}
