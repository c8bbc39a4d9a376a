/**
 * The text ansible-inventory prints: Python's json.dumps(sort_keys=True, indent=4, ensure_ascii=False),
 * so `diff <(pgtasks inventory --list) <(ansible-inventory --list)` shows only real differences. (Not
 * JSON.stringify: JS objects put keys that look like integers first, "2" before "10".) A float that is
 * a whole number prints as an integer (100000, not 100000.0): JS numbers do not remember which they were.
 */
export function ansibleJson(value: unknown): string {
  return dump(value, '');
}

/** Python sorts str keys by code point; JS's default sort compares UTF-16 units. */
function byCodePoint(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d) return d;
  }
  return x.length - y.length;
}

function dump(value: unknown, indent: string): string {
  const inner = `${indent}    `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((v) => inner + dump(v, inner)).join(',\n')}\n${indent}]`;
  }
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort(byCodePoint);
    if (keys.length === 0) return '{}';
    return `{\n${keys.map((k) => `${inner}${JSON.stringify(k)}: ${dump((value as Record<string, unknown>)[k], inner)}`).join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
