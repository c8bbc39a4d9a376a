import { spawn, spawnSync } from 'node:child_process';

/*
 * A command's shape as a real shell parser sees it: shfmt (mvdan/sh, the parser behind shfmt and
 * shellcheck-like tools) prints the syntax tree as JSON. Two commands have the same shape when they
 * have the same statements, operators, redirections, expansions and the same number of words in
 * each command; only the text of fully literal words (quoted or bare, no expansion, no glob) may
 * differ. A value that broke out of its quoting would add a statement, a word or an expansion.
 * `sh -c SCRIPT` and `bash -c SCRIPT` are followed into SCRIPT, which is parsed and compared too.
 */

type Node = Record<string, unknown>;

export interface Shape {
  /** The normalized tree: JSON text, comparable with ===. */
  shape: string;
  /** Every fully literal word (bare or quoted, no expansion), as the shell would pass it. */
  words: string[];
}

export function shfmtAvailable(): boolean {
  return spawnSync('shfmt', ['--version']).status === 0;
}

function parse(text: string): Promise<Node> {
  return new Promise((resolve, reject) => {
    const child = spawn('shfmt', ['-ln', 'bash', '--to-json'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as Node) : reject(new Error(`shfmt cannot parse (${err.trim()}):\n${text}`))));
    child.stdin.end(text);
  });
}

const isPosition = (v: unknown) => typeof v === 'object' && v !== null && 'Offset' in v;
const isWord = (v: unknown): v is { Parts: Node[] } => typeof v === 'object' && v !== null && 'Parts' in v && !('Type' in v);
/** Unquoted characters that make a word a pattern or an expansion rather than text. */
const ACTIVE = /[*?[~{]/;

/** The word's value when it is plain text (Lit, '...', "..." without expansions), else undefined. */
function literal(word: { Parts: Node[] }): string | undefined {
  let value = '';
  for (const part of word.Parts) {
    if (part.Type === 'Lit') {
      const raw = String(part.Value ?? '');
      if (ACTIVE.test(raw.replace(/\\./g, ''))) return undefined;
      value += raw.replace(/\\\n/g, '').replace(/\\(.)/gs, '$1');
    } else if (part.Type === 'SglQuoted' && !part.Dollar) {
      value += String(part.Value ?? '');
    } else if (part.Type === 'DblQuoted' && !part.Dollar && ((part.Parts as Node[] | undefined) ?? []).every((p) => p.Type === 'Lit')) {
      value += ((part.Parts as Node[] | undefined) ?? [])
        .map((p) =>
          String(p.Value ?? '')
            .replace(/\\\n/g, '')
            .replace(/\\([$`"\\])/g, '$1'),
        )
        .join('');
    } else {
      return undefined;
    }
  }
  return value;
}

const cache = new Map<string, Promise<Shape>>();

/** The shape of a command (cached: a run repeats many commands). */
export function shapeOf(text: string): Promise<Shape> {
  let s = cache.get(text);
  if (!s) cache.set(text, (s = parse(text).then(normalize)));
  return s;
}

async function normalize(tree: Node): Promise<Shape> {
  const words: string[] = [];
  const walk = async (v: unknown): Promise<unknown> => {
    if (Array.isArray(v)) return Promise.all(v.map(walk));
    if (typeof v !== 'object' || v === null) return v;
    if (isWord(v)) {
      const text = literal(v);
      if (text !== undefined) {
        words.push(text);
        return 'WORD';
      }
      return { Parts: await walk(v.Parts) };
    }
    const node = v as Node;
    const out: Node = {};
    for (const [k, x] of Object.entries(node)) if (!isPosition(x)) out[k] = await walk(x);
    if (node.Type === 'CallExpr') {
      // sh -c SCRIPT: SCRIPT is shell text again (asUser, the lock holder): its shape is part of this one.
      const args = ((node.Args as unknown[] | undefined) ?? []).map((a) => (isWord(a) ? literal(a) : undefined));
      const nested: unknown[] = [];
      args.forEach((a, i) => {
        const script = args[i + 1];
        if (a === '-c' && i > 0 && /(^|\/)(ba|da)?sh$/.test(args[i - 1] ?? '') && script !== undefined) nested.push(script);
      });
      if (nested.length) {
        const shapes = await Promise.all(nested.map((script) => shapeOf(script as string)));
        out.Nested = shapes.map((s) => JSON.parse(s.shape) as unknown);
        for (const s of shapes) words.push(...s.words);
      }
    }
    return out;
  };
  const shape = JSON.stringify(await walk(tree));
  return { shape, words };
}
