/**
 * YAML scalars as Ansible reads them: PyYAML's YAML 1.1 resolver (yaml/resolver.py) decides the type of
 * a plain scalar, its SafeConstructor (yaml/constructor.py) builds the value. The yaml package's own
 * YAML 1.1 schema differs (`e1` is NaN there, `1e5` a number, `y` a boolean), so pgtasks reads every
 * scalar as text and types it here. Python's str() of a value is kept: Ansible's messages quote it.
 */

/** The Python type PyYAML gives a scalar. */
export type PyKind = 'str' | 'int' | 'float' | 'bool' | 'null' | 'date' | 'datetime';

export interface PyScalar {
  kind: PyKind;
  /** The value pgtasks keeps: dates as the ISO text ansible-inventory prints, ints as numbers. */
  value: string | number | boolean | null;
  /** Python's str() of the value, as Ansible's messages show it (`16`, `True`, `None`, `100000.0`). */
  str: string;
}

/** A scalar that PyYAML (or ansible-core's constructor) cannot build: the message says why. */
export class ScalarError extends Error {}

// The implicit resolvers, in PyYAML's registration order, each tried only for its first characters.
const RESOLVERS: [tag: string, re: RegExp, first: string[]][] = [
  ['bool', /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/, [...'yYnNtTfFoO']],
  [
    'float',
    /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/,
    [...'-+0123456789.'],
  ],
  ['int', /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/, [...'-+0123456789']],
  ['merge', /^(?:<<)$/, ['<']],
  ['null', /^(?:~|null|Null|NULL|)$/, ['~', 'n', 'N', '']],
  [
    'timestamp',
    /^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$/,
    [...'0123456789'],
  ],
  ['value', /^(?:=)$/, ['=']],
];

/** The tag (short form: 'int', 'str', 'merge', ...) PyYAML resolves a plain, untagged scalar to. */
export function resolvePlain(text: string): string {
  const first = text === '' ? '' : text[0]!;
  for (const [tag, re, firsts] of RESOLVERS) if (firsts.includes(first) && re.test(text)) return tag;
  return 'str';
}

export const str = (value: string): PyScalar => ({ kind: 'str', value, str: value });
export const NONE: PyScalar = { kind: 'null', value: null, str: 'None' };

/** Builds a scalar of a resolved or explicit short tag (construct_yaml_int, _float, _bool, ...). */
export function construct(tag: string, text: string): PyScalar {
  switch (tag) {
    case 'str':
      return str(text);
    case 'null':
      return NONE;
    case 'bool': {
      const b = ({ yes: true, no: false, true: true, false: false, on: true, off: false } as Record<string, boolean>)[text.toLowerCase()];
      if (b === undefined) throw new ScalarError(`'${text}' is not a YAML boolean`);
      return { kind: 'bool', value: b, str: b ? 'True' : 'False' };
    }
    case 'int': {
      const n = pyYamlInt(text);
      return { kind: 'int', value: Number(n), str: n.toString() };
    }
    case 'float': {
      const f = pyYamlFloat(text);
      return { kind: 'float', value: f, str: pyFloatRepr(f) };
    }
    case 'timestamp':
      return pyYamlTimestamp(text);
    default:
      throw new ScalarError(`could not determine a constructor for the tag 'tag:yaml.org,2002:${tag}'`);
  }
}

/** Python's int(text, base): digits of the base, an optional sign, surrounding blanks. */
function pyInt(text: string, base: 2 | 8 | 10 | 16): bigint {
  const digits = { 2: '[01]', 8: '[0-7]', 10: '[0-9]', 16: '[0-9a-fA-F]' }[base];
  const m = new RegExp(`^\\s*([-+]?)(${digits}+)\\s*$`).exec(text);
  if (!m) throw new ScalarError(`invalid literal for int() with base ${base}: '${text}'`);
  const prefix = { 2: '0b', 8: '0o', 10: '', 16: '0x' }[base];
  const n = BigInt(`${prefix}${m[2]}`);
  return m[1] === '-' ? -n : n;
}

/** construct_yaml_int: underscores dropped, 0b / 0x / leading-0 octal, base 60 with colons. */
function pyYamlInt(text: string): bigint {
  let v = text.replace(/_/g, '');
  if (v === '') throw new ScalarError('string index out of range (an empty !!int)');
  const sign = v[0] === '-' ? -1n : 1n;
  if (v[0] === '+' || v[0] === '-') v = v.slice(1);
  if (v === '0') return 0n;
  if (v.startsWith('0b')) return sign * pyInt(v.slice(2), 2);
  if (v.startsWith('0x')) return sign * pyInt(v.slice(2), 16);
  if (v[0] === '0') return sign * pyInt(v, 8);
  if (v.includes(':')) {
    let value = 0n;
    let base = 1n;
    for (const part of v.split(':').reverse()) {
      value += pyInt(part, 10) * base;
      base *= 60n;
    }
    return sign * value;
  }
  return sign * pyInt(v, 10);
}

/** Python's float(text). */
function pyFloat(text: string): number {
  const t = text.trim().toLowerCase();
  const m = /^([-+]?)(inf|infinity|nan)$/.exec(t);
  if (m) return m[2] === 'nan' ? NaN : m[1] === '-' ? -Infinity : Infinity;
  if (!/^[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[-+]?[0-9]+)?$/.test(t)) throw new ScalarError(`could not convert string to float: '${text}'`);
  return Number(t);
}

/** construct_yaml_float: underscores dropped, .inf / .nan, base 60 with colons. */
function pyYamlFloat(text: string): number {
  let v = text.replace(/_/g, '').toLowerCase();
  if (v === '') throw new ScalarError('string index out of range (an empty !!float)');
  const sign = v[0] === '-' ? -1 : 1;
  if (v[0] === '+' || v[0] === '-') v = v.slice(1);
  if (v === '.inf') return sign * Infinity;
  if (v === '.nan') return NaN;
  if (v.includes(':')) {
    let value = 0;
    let base = 1;
    for (const part of v.split(':').reverse()) {
      value += pyFloat(part) * base;
      base *= 60;
    }
    return sign * value;
  }
  return sign * pyFloat(v);
}

/** Python's repr() of a float: the shortest digits that read back, `.0` on whole numbers, e+XX outside 1e-4..1e16. */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mantissa, exp] = Math.abs(x).toExponential().split('e') as [string, string];
  const digits = mantissa.replace('.', '');
  const e = Number(exp);
  const sign = x < 0 ? '-' : '';
  if (e < -4 || e >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign}${m}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  if (e < 0) return `${sign}0.${'0'.repeat(-e - 1)}${digits}`;
  const whole = digits.slice(0, e + 1).padEnd(e + 1, '0');
  const frac = digits.slice(e + 1);
  return `${sign}${whole}.${frac || '0'}`;
}

const TIMESTAMP =
  /^([0-9][0-9][0-9][0-9])-([0-9][0-9]?)-([0-9][0-9]?)(?:(?:[Tt]|[ \t]+)([0-9][0-9]?):([0-9][0-9]):([0-9][0-9])(?:\.([0-9]*))?(?:[ \t]*(Z|([-+])([0-9][0-9]?)(?::([0-9][0-9]))?))?)?$/;

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** construct_yaml_timestamp: a datetime.date or datetime.datetime, with Python's range checks. */
function pyYamlTimestamp(text: string): PyScalar {
  const m = TIMESTAMP.exec(text);
  if (!m) throw new ScalarError(`'${text}' is not a YAML timestamp`);
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (year < 1) throw new ScalarError(`year ${year} is out of range`);
  if (month < 1 || month > 12) throw new ScalarError('month must be in 1..12');
  const monthDays = new Date(Date.UTC(2000, month, 0)).getUTCDate() - (month === 2 && !isLeap(year) ? 1 : 0);
  if (day < 1 || day > monthDays) throw new ScalarError('day is out of range for month');
  const date = `${pad(year, 4)}-${pad(month)}-${pad(day)}`;
  if (m[4] === undefined) return { kind: 'date', value: date, str: date };
  const [hour, minute, second] = [Number(m[4]), Number(m[5]), Number(m[6])];
  if (hour > 23) throw new ScalarError('hour must be in 0..23');
  if (minute > 59) throw new ScalarError('minute must be in 0..59');
  if (second > 59) throw new ScalarError('second must be in 0..59');
  const micro = m[7] ? Number(m[7].slice(0, 6).padEnd(6, '0')) : 0;
  let tz = '';
  if (m[9]) {
    const offset = Number(m[10]) * 60 + Number(m[11] ?? 0);
    if (offset >= 24 * 60) throw new ScalarError('offset must be a timedelta strictly between -timedelta(hours=24) and timedelta(hours=24)');
    tz = `${m[9] === '-' && offset ? '-' : '+'}${pad(Math.floor(offset / 60))}:${pad(offset % 60)}`;
  } else if (m[8]) tz = '+00:00';
  const time = `${pad(hour)}:${pad(minute)}:${pad(second)}${micro ? `.${pad(micro, 6)}` : ''}${tz}`;
  return { kind: 'datetime', value: `${date}T${time}`, str: `${date} ${time}` };
}

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

/** The key json.dumps writes for a Python dict key (ansible-inventory's output): True → "true", 16 → "16". */
export function jsonKey(s: PyScalar): string {
  switch (s.kind) {
    case 'bool':
      return s.value ? 'true' : 'false';
    case 'null':
      return 'null';
    case 'float':
      return Number.isNaN(s.value) ? 'NaN' : s.value === Infinity ? 'Infinity' : s.value === -Infinity ? '-Infinity' : s.str;
    case 'int':
      return s.str;
    default:
      return String(s.value); // str, and dates as their ISO text (json.dumps itself refuses date keys)
  }
}

/** When two keys are the same Python dict key: 1, 1.0 and True are; "1" is not. */
export function keyIdentity(s: PyScalar): string {
  if (s.kind === 'int' || s.kind === 'float' || s.kind === 'bool') return `n:${Number(s.value)}`;
  return `${s.kind}:${String(s.value)}`;
}

/** Python's type() of a scalar, as `<class 'int'>` appears in Ansible's messages. */
export function pyType(s: PyScalar): string {
  const name = { str: 'str', int: 'int', float: 'float', bool: 'bool', null: 'NoneType', date: 'datetime.date', datetime: 'datetime.datetime' }[s.kind];
  return `<class '${name}'>`;
}

/** Python's truthiness: '', 0, 0.0, False and None are false. */
export function pyTruthy(s: PyScalar): boolean {
  return s.kind === 'date' || s.kind === 'datetime' || (s.value !== null && s.value !== '' && s.value !== 0 && s.value !== false);
}
