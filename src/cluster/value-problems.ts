import type { z } from 'zod';
import type { Origin } from '../inventory/types.js';
import { didYouMean } from './did-you-mean.js';
import { databaseSchema, grantSchema, hbaRuleObject, pgVarsSchema, registryProviders, tlsObject, userSchema } from './pg-vars-schema.js';

/*
 * Checks of single pg_* values, each reported at the line that set it: unknown names, types, the parts
 * of mappings and lists, pg_parameters that would break the cluster.
 */

type Path = (string | number)[];

/** One thing wrong with the pg_* variables: where it was set (or whose default it is) and what. */
export interface VarProblem {
  origin?: Origin;
  /** Names the host or group when there is no origin (an inventory built in code, a default value). */
  scope: string;
  message: string;
}

/** One variable as one place in the inventory sets it. */
export interface VarDefinition {
  name: string;
  value: unknown;
  origin?: Origin;
  scope: string;
}

const KNOWN = Object.keys(pgVarsSchema.shape);

function render(p: VarProblem): string {
  const o = p.origin;
  return `${o ? (o.line ? `${o.file}:${o.line}` : o.file) : p.scope}: ${p.message}`;
}

/**
 * One line per problem, each once, ordered by file and line: the inventory files first, in the order
 * they were read (`sources`), then group_vars/ and host_vars/ files by name, then problems without a place.
 */
export function problemLines(problems: VarProblem[], sources: string[] = []): string[] {
  const rank = (p: VarProblem): [number, string, number] => {
    const file = p.origin?.file;
    if (file === undefined) return [2, '', 0];
    const i = sources.indexOf(file);
    return i >= 0 ? [0, String(i).padStart(6, '0'), p.origin!.line ?? 0] : [1, file, p.origin!.line ?? 0];
  };
  const sorted = [...problems].sort((a, b) => {
    const [ga, fa, la] = rank(a);
    const [gb, fb, lb] = rank(b);
    return ga - gb || (fa < fb ? -1 : fa > fb ? 1 : 0) || la - lb;
  });
  return [...new Set(sorted.map(render))];
}

export const show = (v: unknown): string => {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

const pathText = (path: Path): string => path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('');

/** The keys a mapping inside a pg_* value may have, for "did you mean" on an unknown one. */
function knownKeys(path: Path, value: unknown): string[] {
  if (path[0] === 'pg_hba') return Object.keys(hbaRuleObject.shape);
  if (path[0] === 'pg_users') return Object.keys(userSchema.shape);
  if (path[0] === 'pg_tls') return Object.keys(tlsObject.shape);
  if (path[0] === 'pg_databases') return Object.keys((path[2] === 'grants' ? grantSchema : databaseSchema).shape);
  if (path[0] === 'pg_registry') {
    const provider = (value as { provider?: unknown } | null)?.provider;
    const branch = registryProviders.find((b) => b.shape.provider.value === provider);
    return Object.keys(branch?.shape ?? {});
  }
  return [];
}

type Issue = z.core.$ZodIssue;

/** Zod's issues, as "what is wrong" at a path inside the variable; unions answered by the branch that fits. */
function describe(issues: readonly Issue[], prefix: Path, root: unknown): { path: Path; message: string }[] {
  return issues.flatMap((issue): { path: Path; message: string }[] => {
    const path = [...prefix, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
    const input = (issue as { input?: unknown }).input;
    const hasInput = 'input' in issue && input !== undefined;
    switch (issue.code) {
      case 'invalid_union': {
        if ('discriminator' in issue && issue.discriminator) {
          const options = (issue as { options?: unknown[] }).options ?? [];
          const given = (input as Record<string, unknown> | undefined)?.[issue.discriminator];
          return [
            { path, message: given === undefined ? `is required: one of ${options.join(', ')}` : `must be one of ${options.join(', ')} (got ${show(given)})` },
          ];
        }
        // A string or a mapping (pg_hba): explain with the branch the value was meant for.
        const fitting = issue.errors.filter((branch) => !branch.every((i) => i.code === 'invalid_type' && i.path.length === 0));
        if (fitting.length === 1) return describe(fitting[0]!, path, root);
        return [{ path, message: `${issue.message}${hasInput ? ` (got ${show(input)})` : ''}` }];
      }
      case 'invalid_key':
        return [{ path, message: issue.issues[0]?.message ?? issue.message }];
      case 'unrecognized_keys': {
        let value: unknown = root;
        for (const p of path.slice(1)) value = (value as Record<string | number, unknown> | undefined)?.[p];
        const known = knownKeys(path, value);
        return issue.keys.map((k) => ({
          path: [...path, k],
          message: `unknown key${didYouMean(k, known)}${known.length ? ` (it takes ${known.join(', ')})` : ''}`,
        }));
      }
      case 'invalid_type': {
        if (!hasInput) return [{ path, message: 'is required' }];
        const quotedNumber = (issue.expected === 'number' || issue.expected === 'int') && typeof input === 'string' && /^-?\d+(\.\d+)?$/.test(input.trim());
        return [{ path, message: `${issue.message} (got ${show(input)}${quotedNumber ? `, a string: write ${input.trim()} without quotes` : ''})` }];
      }
      case 'invalid_value': {
        if (!hasInput) return [{ path, message: `is required: ${issue.message.replace(/^must be /, '')}` }];
        const hint = typeof input === 'string' ? didYouMean(input, issue.values.map(String)) : '';
        return [{ path, message: `${issue.message} (got ${show(input)})${hint}` }];
      }
      default:
        return [{ path, message: `${issue.message}${hasInput && typeof input !== 'object' ? ` (got ${show(input)})` : ''}` }];
    }
  });
}

/** pgtasks' own settings in postgresql.conf: overriding one in pg_parameters would break the cluster. */
const MANAGED_SETTINGS: Record<string, string> = {
  port: 'set pg_port instead',
  listen_addresses: 'set pg_listen_addresses instead',
  synchronous_standby_names: 'set pg_sync_replicas instead',
  primary_conninfo: 'pgtasks points each replica at its primary',
  primary_slot_name: 'pgtasks gives each replica its slot',
  data_directory: 'the data directory is the Debian cluster’s',
  hba_file: 'set pg_hba rules instead',
  ident_file: 'pgtasks writes it',
  external_pid_file: 'pgtasks and pg_ctlcluster rely on it',
  unix_socket_directories: 'pgtasks connects through /var/run/postgresql',
  ssl: 'set pg_tls instead',
  ssl_cert_file: 'set pg_tls.cert_file instead',
  ssl_key_file: 'set pg_tls.key_file instead',
  ssl_ca_file: 'set pg_tls.ca_file instead',
};

/** Checks the meaning of values whose type is right (pg_parameters that would break the cluster). */
function semanticProblems(name: string, value: unknown): { path: Path; message: string }[] {
  if (name !== 'pg_parameters' || typeof value !== 'object' || value === null) return [];
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => {
    const managed = MANAGED_SETTINGS[k.toLowerCase()];
    if (managed) return [{ path: [name, k], message: `is set by pgtasks; ${managed}` }];
    if (k.toLowerCase() === 'wal_level' && String(v).toLowerCase() === 'minimal')
      return [{ path: [name, k], message: 'minimal cannot feed replicas; use replica or logical' }];
    return [];
  });
}

/** What is wrong with one pg_* variable's value: paths inside it (pg_registry.port) and messages. */
export function pgVarProblems(name: string, value: unknown): { path: Path; message: string }[] {
  const schema = (pgVarsSchema.shape as Record<string, z.ZodType>)[name];
  if (!schema) return [{ path: [name], message: `unknown variable${didYouMean(name, KNOWN) || ": pg_* names are pgtasks' own (the README lists them)"}` }];
  if (value === null) return [{ path: [name], message: 'has no value (give it one, or remove the line)' }];
  const r = schema.safeParse(value, { reportInput: true });
  return [...(r.success ? [] : describe(r.error.issues, [name], value)), ...semanticProblems(name, value)];
}

/** Problems of each definition, each reported at the line that set it (a part of a value at its own line). */
export function definitionProblems(defs: Iterable<VarDefinition>): VarProblem[] {
  const out: VarProblem[] = [];
  for (const d of defs) {
    if (!d.name.startsWith('pg_')) continue;
    for (const { path, message } of pgVarProblems(d.name, d.value)) {
      const origin = d.origin && path.length > 1 ? (d.origin.locate?.(path.slice(1)) ?? d.origin) : d.origin;
      out.push({ origin, scope: d.scope, message: `${path[0]}${pathText(path.slice(1))}: ${message}` });
    }
  }
  return out;
}
