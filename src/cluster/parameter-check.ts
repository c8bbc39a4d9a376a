import type { SettingChange } from './restart-order.js';
import { closest } from './did-you-mean.js';

/**
 * pg_parameters checked against what the server knows of its settings, before any file is written.
 * Pure: the settings come from pg_settings (a running server) or `postgres --describe-config` (none
 * yet); anything that looks wrong here is only a suspect until PostgreSQL's own parser confirms it
 * (src/steps/pg-settings.ts), so a valid value PostgreSQL accepts under a hidden alias is never refused.
 */

export type VarType = 'bool' | 'integer' | 'real' | 'string' | 'enum';

export interface SettingInfo {
  name: string;
  vartype: VarType;
  /** postmaster (restart), sighup, user, internal (read-only), ... */
  context: string;
  /** Base unit of an integer/real setting (8kB, kB, MB, ms, s, min), when it has one. */
  unit?: string;
  /** False from --describe-config, which does not print units: a value with a unit cannot be converted. */
  unitsKnown: boolean;
  min?: number;
  max?: number;
  enumvals?: string[];
  /** Current value in the base unit (running server only). */
  setting?: string;
  /** Current value as SHOW prints it (128MB), for messages. */
  display?: string;
  bootVal?: string;
  source?: string;
  sourcefile?: string;
}

export type ParameterValue = string | number | boolean;

/** A parameter that looks wrong: a name no server setting has, or a value of the wrong kind or range. */
export interface Suspect {
  name: string;
  value: string;
  hosts: string[];
  kind: 'name' | 'value';
  reason: string;
}

/** The value as postgresql.conf hands it to PostgreSQL (the template writes booleans as on/off). */
export function confText(v: ParameterValue): string {
  return typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v);
}

/** `ext.name`: PostgreSQL keeps any dotted name as a placeholder for an extension's setting. */
export function isCustomName(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)+$/.test(name);
}

/** Rows of SETTINGS_SQL (pg-settings.ts), keyed by lower-case name: PostgreSQL's names are case-insensitive. */
export function settingsFromRows(rows: string[][]): Map<string, SettingInfo> {
  const num = (s: string | undefined) => (s === undefined || s === '' ? undefined : Number(s));
  return new Map(
    rows.map(([name, vartype, context, unit, min, max, enumvals, bootVal, setting, source, sourcefile, display]) => [
      name!.toLowerCase(),
      {
        name: name!,
        vartype: vartype as VarType,
        context: context!,
        unit: unit || undefined,
        unitsKnown: true,
        min: num(min),
        max: num(max),
        enumvals: enumvals ? enumvals.split(',') : undefined,
        bootVal: bootVal,
        setting,
        source: source || undefined,
        sourcefile: sourcefile || undefined,
        display: display || undefined,
      },
    ]),
  );
}

/** `postgres --describe-config`: name, context, group, TYPE, reset, min, max, descriptions (tab-separated). */
export function settingsFromDescribeConfig(stdout: string): Map<string, SettingInfo> {
  const out = new Map<string, SettingInfo>();
  for (const line of stdout.split('\n')) {
    const [name, context, , type, , min, max] = line.split('\t');
    if (!name || !type) continue;
    out.set(name.toLowerCase(), {
      name,
      vartype: type.toLowerCase() === 'boolean' ? 'bool' : (type.toLowerCase() as VarType),
      context: context ?? '',
      unitsKnown: false,
      min: min ? Number(min) : undefined,
      max: max ? Number(max) : undefined,
    });
  }
  return out;
}

/** PostgreSQL's parse_bool: on/off, true/false, yes/no, 1/0 and their unambiguous prefixes. */
export function parseBool(text: string): boolean | undefined {
  const v = text.trim().toLowerCase();
  if (!v) return undefined;
  if (v === '1' || v === 'on') return true;
  if (v === '0' || v === 'of' || v === 'off') return false;
  for (const [word, value] of [
    ['true', true],
    ['false', false],
    ['yes', true],
    ['no', false],
  ] as const)
    if (word.startsWith(v)) return value;
  return undefined;
}

const MEMORY: Record<string, number> = { B: 1, kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };
const TIME: Record<string, number> = { us: 0.001, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/** Bytes or milliseconds of one base unit such as 8kB or s; undefined for a setting without units. */
function unitSize(unit: string | undefined): { size: number; table: Record<string, number> } | undefined {
  if (!unit) return undefined;
  const m = /^(\d*)\s*(\w+)$/.exec(unit);
  if (!m) return undefined;
  const factor = m[1] ? Number(m[1]) : 1;
  if (MEMORY[m[2]!]) return { size: factor * MEMORY[m[2]!]!, table: MEMORY };
  if (TIME[m[2]!]) return { size: factor * TIME[m[2]!]!, table: TIME };
  return undefined;
}

/** A numeric setting's value in its base unit (what pg_settings.setting shows), or why it is not one. */
export function numericValue(text: string, info: SettingInfo): { value?: number; problem?: string } {
  const m = /^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([A-Za-z]+)?\s*$/.exec(text);
  if (!m) {
    // Hex and octal integers (0x1F) are PostgreSQL's too; anything else is not a number at all.
    if (info.vartype === 'integer' && /^\s*[+-]?0[xX][0-9a-fA-F]+\s*$/.test(text)) return {};
    return {
      problem: `not a number${info.vartype === 'integer' && info.unit ? ` (an integer, optionally with a unit such as ${unitExample(info.unit)})` : ''}`,
    };
  }
  const n = Number(m[1]);
  if (!m[2]) return { value: info.vartype === 'integer' ? Math.round(n) : n };
  const base = unitSize(info.unit);
  if (!info.unitsKnown) return {};
  if (!base) return { problem: 'this setting takes no unit' };
  const factor = base.table[m[2]];
  if (factor === undefined) return { problem: `valid units for this setting are ${Object.keys(base.table).join(', ')}` };
  const v = (n * factor) / base.size;
  return { value: info.vartype === 'integer' ? Math.round(v) : v };
}

function unitExample(unit: string): string {
  return unitSize(unit)?.table === TIME ? 's or min' : 'MB or GB';
}

/** Why a value cannot be right for this setting, when that is cheap to see; undefined when it looks fine. */
export function valueProblem(text: string, info: SettingInfo): string | undefined {
  switch (info.vartype) {
    case 'bool':
      return parseBool(text) === undefined ? 'not a boolean (on or off)' : undefined;
    case 'enum': {
      if (!info.enumvals || info.enumvals.some((e) => e.toLowerCase() === text.trim().toLowerCase())) return undefined;
      return `not one of ${info.enumvals.join(', ')}`;
    }
    case 'integer':
    case 'real': {
      const { value, problem } = numericValue(text, info);
      if (problem) return problem;
      if (value === undefined) return undefined;
      if (info.min !== undefined && value < info.min) return `below the minimum ${info.min}${info.unit ? ` (${info.unit})` : ''}`;
      if (info.max !== undefined && value > info.max) return `above the maximum ${info.max}${info.unit ? ` (${info.unit})` : ''}`;
      return undefined;
    }
    default:
      return undefined;
  }
}

/**
 * Whether `text` means the setting's current value (pg_settings.setting, in base units); undefined
 * when that cannot be told without PostgreSQL (an unknown current value, hex numbers).
 */
export function sameAsCurrent(text: string, info: SettingInfo): boolean | undefined {
  if (info.setting === undefined) return undefined;
  switch (info.vartype) {
    case 'bool': {
      const b = parseBool(text);
      return b === undefined ? undefined : b === (info.setting === 'on');
    }
    case 'integer':
    case 'real': {
      const { value } = numericValue(text, info);
      return value === undefined ? undefined : value === Number(info.setting);
    }
    case 'enum':
      return text.trim().toLowerCase() === info.setting.toLowerCase();
    default:
      return text === info.setting;
  }
}

/**
 * Every parameter of every host that looks wrong against `known`: unknown names (not `ext.name`),
 * read-only settings, values of the wrong kind or out of range. One suspect per (name, value), with
 * the hosts that set it.
 */
export function findSuspects(hosts: { host: string; parameters: Record<string, ParameterValue> }[], known: Map<string, SettingInfo>): Suspect[] {
  const byKey = new Map<string, Suspect>();
  for (const { host, parameters } of hosts) {
    for (const [name, raw] of Object.entries(parameters)) {
      const value = confText(raw);
      const info = known.get(name.toLowerCase());
      let suspect: Omit<Suspect, 'hosts'> | undefined;
      if (!info) {
        if (!isCustomName(name)) suspect = { name, value, kind: 'name', reason: 'unknown setting' };
      } else if (info.context === 'internal') {
        suspect = { name, value, kind: 'value', reason: 'a read-only setting (fixed when PostgreSQL was built or initialised)' };
      } else {
        const problem = valueProblem(value, info);
        if (problem) suspect = { name, value, kind: 'value', reason: problem };
      }
      if (!suspect) continue;
      const key = `${name}\0${value}`;
      const seen = byKey.get(key);
      if (seen) seen.hosts.push(host);
      else byKey.set(key, { ...suspect, hosts: [host] });
    }
  }
  return [...byKey.values()];
}

export function closestSetting(name: string, known: Iterable<string>): string | undefined {
  // Sorted: on a tie the alphabetically first name wins, whatever order the server listed them in.
  return closest(name, [...known].sort());
}

/**
 * The refusal for the suspects PostgreSQL confirmed (`pgError`: PostgreSQL's own message, when it
 * gave one). Names the inventory variable and the hosts, with did-you-mean for unknown names.
 */
export function parameterErrors(confirmed: { suspect: Suspect; pgError?: string }[], known: Map<string, SettingInfo>, allHosts: string[]): string[] {
  const names = [...known.values()].map((i) => i.name);
  return confirmed.map(({ suspect: s, pgError }) => {
    const where = s.hosts.length === allHosts.length ? '' : ` (on ${s.hosts.join(', ')})`;
    if (s.kind === 'name') {
      const near = closestSetting(s.name, names);
      return `pg_parameters.${s.name}${where}: PostgreSQL has no setting "${s.name}"${near ? `; did you mean ${near}?` : ''}`;
    }
    return `pg_parameters.${s.name} = ${JSON.stringify(s.value)}${where}: ${pgError ?? s.reason}`;
  });
}

/** The settings a postgresql.conf sets, lower-case name -> value text; the last line wins, as in PostgreSQL. */
export function confSettings(content: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of content.split('\n')) {
    const m = /^\s*([A-Za-z_][\w.$]*)\s*=?\s*(.*)$/.exec(line);
    if (!m || /^include/.test(m[1]!)) continue;
    const rest = m[2]!;
    let value = '';
    if (rest.startsWith("'")) {
      // Quoted: '' and backslash escape the next character (what the template's pgquote writes).
      for (let i = 1; i < rest.length; i++) {
        const c = rest[i]!;
        if (c === '\\') value += rest[++i] ?? '';
        else if (c === "'" && rest[i + 1] === "'") value += rest[++i];
        else if (c === "'") break;
        else value += c;
      }
    } else value = rest.replace(/#.*$/, '').trim();
    out.set(m[1]!.toLowerCase(), value);
  }
  return out;
}

/**
 * The restart-only settings a new postgresql.conf would change on a running server (what --check
 * predicts; a real run reads pending_restart after the reload instead). A setting the new file drops
 * goes back to its built-in default; ALTER SYSTEM values (postgresql.auto.conf) override the file.
 */
export function restartChanges(conf: string, settings: Map<string, SettingInfo>): SettingChange[] {
  const wanted = confSettings(conf);
  const changes: SettingChange[] = [];
  for (const info of settings.values()) {
    if (info.context !== 'postmaster' || info.sourcefile?.endsWith('postgresql.auto.conf')) continue;
    let text = wanted.get(info.name.toLowerCase());
    if (text === undefined) {
      if (info.source !== 'configuration file') continue;
      text = info.bootVal ?? '';
    }
    if (sameAsCurrent(text, info) !== false) continue;
    changes.push({ name: info.name, from: info.display ?? info.setting ?? '?', to: text });
  }
  return changes;
}
