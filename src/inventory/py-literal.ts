/**
 * Python's ast.literal_eval, as much as Ansible's INI plugin needs: it types every INI value with it
 * (`port=22` is 22, `x=True` is true, `x=true` stays "true", `l=['a', 1]` is a list).
 * Throws SyntaxError on anything literal_eval would refuse; iniValue then keeps the text.
 */
export function pythonLiteral(text: string): unknown {
  const p = new Parser(text);
  p.skip();
  const value = p.value();
  p.skip();
  if (p.i < text.length) p.fail();
  return value;
}

const NUMBER =
  /^(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|(?:\d(?:_?\d)*)?\.\d(?:_?\d)*(?:[eE][+-]?\d(?:_?\d)*)?|\d(?:_?\d)*\.?(?:[eE][+-]?\d(?:_?\d)*)?)/;
const ESCAPES: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  '\\': '\\',
  "'": "'",
  '"': '"',
  a: '\x07',
  b: '\b',
  f: '\f',
  v: '\v',
  '0': '\0',
  '\n': '',
};

class Parser {
  i = 0;
  constructor(readonly s: string) {}

  fail(): never {
    throw new SyntaxError(`not a Python literal: ${this.s}`);
  }

  /** Whitespace, and a trailing `# comment` (Python's tokenizer drops it, so literal_eval accepts it). */
  skip(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i]!)) this.i++;
    if (this.s[this.i] === '#') this.i = this.s.length;
  }

  value(): unknown {
    const c = this.s[this.i];
    if (c === '[') return this.sequence(']');
    if (c === '(') return this.sequence(')');
    if (c === '{') return this.braces();
    if (c === '-' || c === '+') {
      this.i++;
      this.skip();
      const n = this.number();
      return c === '-' ? -n : n;
    }
    if (c !== undefined && /[0-9.]/.test(c)) return this.number();
    const word = /^[A-Za-z_]\w*/.exec(this.s.slice(this.i))?.[0];
    if (word && /^[rRuUbB]{1,2}$/.test(word) && /['"]/.test(this.s[this.i + word.length] ?? '')) return this.strings();
    if (word === 'True' || word === 'False' || word === 'None') {
      this.i += word.length;
      return word === 'None' ? null : word === 'True';
    }
    if (c === '"' || c === "'") return this.strings();
    return this.fail();
  }

  number(): number {
    const m = NUMBER.exec(this.s.slice(this.i));
    if (!m || !m[0] || m[0] === '.') return this.fail();
    const t = m[0].replace(/_/g, '');
    // Python refuses 007 (ambiguous octal) but accepts 000.
    if (/^0\d/.test(t) && !/^0+$/.test(t) && !/[.eE]/.test(t)) this.fail();
    this.i += m[0].length;
    if (/^[\w.]/.test(this.s[this.i] ?? '')) this.fail(); // 12ab, 1j (complex): not for us
    if (/^0[xXoObB]/.test(t)) return Number(t.slice(0, 2).toLowerCase() === '0o' ? `0o${t.slice(2)}` : t);
    return Number(t);
  }

  /** Adjacent literals concatenate, as in Python: 'a' "b" is 'ab'. */
  strings(): string {
    let out = this.string();
    for (;;) {
      const gap = /^\s*(?=[rRuUbB]{0,2}['"])/.exec(this.s.slice(this.i));
      if (!gap) return out;
      this.i += gap[0].length;
      out += this.string();
    }
  }

  string(): string {
    const prefix = /^[rRuUbB]{0,2}/.exec(this.s.slice(this.i))![0];
    const raw = /r/i.test(prefix);
    this.i += prefix.length;
    const quote = this.s.startsWith(this.s[this.i]!.repeat(3), this.i) ? this.s[this.i]!.repeat(3) : this.s[this.i]!;
    this.i += quote.length;
    let out = '';
    while (!this.s.startsWith(quote, this.i)) {
      const ch = this.s[this.i];
      if (ch === undefined || (ch === '\n' && quote.length === 1)) this.fail();
      if (ch === '\\') {
        const next = this.s[this.i + 1] ?? this.fail();
        if (raw) out += ch + next;
        else if (next === 'x') out += String.fromCharCode(parseInt(this.hex(2), 16));
        else if (next === 'u') out += String.fromCharCode(parseInt(this.hex(4), 16));
        else out += ESCAPES[next] ?? ch + next;
        this.i += 2;
        continue;
      }
      out += ch;
      this.i++;
    }
    this.i += quote.length;
    return out;
  }

  hex(n: number): string {
    const h = this.s.slice(this.i + 2, this.i + 2 + n);
    if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(h)) this.fail();
    this.i += n;
    return h;
  }

  /** Lists and tuples (JSON has only lists); `(x)` is just x. */
  sequence(close: string): unknown {
    this.i++;
    const items: unknown[] = [];
    let comma = false;
    for (this.skip(); this.s[this.i] !== close; this.skip()) {
      if (items.length && !comma) this.fail();
      items.push(this.value());
      this.skip();
      comma = this.s[this.i] === ',';
      if (comma) this.i++;
    }
    this.i++;
    return close === ')' && items.length === 1 && !comma ? items[0] : items;
  }

  /** Dicts; sets become lists. JSON keys are strings, as json.dumps makes them. */
  braces(): unknown {
    this.i++;
    const dict: Record<string, unknown> = {};
    const set: unknown[] = [];
    for (this.skip(); this.s[this.i] !== '}'; this.skip()) {
      if (this.i >= this.s.length) this.fail();
      const key = this.value();
      this.skip();
      if (this.s[this.i] === ':') {
        if (set.length) this.fail();
        this.i++;
        this.skip();
        dict[key === null ? 'null' : String(key)] = this.value();
      } else {
        if (Object.keys(dict).length) this.fail();
        set.push(key);
      }
      this.skip();
      if (this.s[this.i] === ',') this.i++;
      else if (this.s[this.i] !== '}') this.fail();
    }
    this.i++;
    return set.length ? set : dict;
  }
}
