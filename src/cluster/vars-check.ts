import type { z } from 'zod';
import { UserError } from '../errors.js';
import type { Inventory, Origin } from '../inventory/types.js';
import { didYouMean } from './did-you-mean.js';
import { CLUSTER_WIDE, hbaRuleObject, pgVarsSchema, registryProviders, withAbsolutePaths, type PgVars } from './pg-vars-schema.js';

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

const show = (v: unknown): string => {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

const pathText = (path: Path): string => path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('');

/** The keys a mapping inside a pg_* value may have, for "did you mean" on an unknown one. */
function knownKeys(path: Path, value: unknown): string[] {
  if (path[0] === 'pg_hba') return Object.keys(hbaRuleObject.shape);
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
          return [{ path, message: given === undefined ? `is required: one of ${options.join(', ')}` : `must be one of ${options.join(', ')} (got ${show(given)})` }];
        }
        // A string or a mapping (pg_hba): explain with the branch the value was meant for.
        const fitting = issue.errors.filter((branch) => !branch.every((i) => i.code === 'invalid_type' && i.path.length === 0));
        if (fitting.length === 1) return describe(fitting[0]!, path, root);
        return [{ path, message: `${issue.message}${hasInput ? ` (got ${show(input)})` : ''}` }];
      }
      case 'invalid_key':
        return [{ path, message: (issue.issues[0]?.message ?? issue.message) }];
      case 'unrecognized_keys': {
        let value: unknown = root;
        for (const p of path.slice(1)) value = (value as Record<string | number, unknown> | undefined)?.[p];
        const known = knownKeys(path, value);
        return issue.keys.map((k) => ({ path: [...path, k], message: `unknown key${didYouMean(k, known)}${known.length ? ` (it takes ${known.join(', ')})` : ''}` }));
      }
      case 'invalid_type': {
        if (!hasInput) return [{ path, message: 'is required' }];
        const quotedNumber = (issue.expected === 'number' || issue.expected === 'int') && typeof input === 'string' && /^-?\d+(\.\d+)?$/.test(input.trim());
        return [{ path, message: `${issue.message} (got ${show(input)}${quotedNumber ? `, a string: write ${input.trim()} without quotes` : ''})` }];
      }
      case 'invalid_value': {
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
};

/** Checks the meaning of values whose type is right (pg_parameters that would break the cluster). */
function semanticProblems(name: string, value: unknown): { path: Path; message: string }[] {
  if (name !== 'pg_parameters' || typeof value !== 'object' || value === null) return [];
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => {
    const managed = MANAGED_SETTINGS[k.toLowerCase()];
    if (managed) return [{ path: [name, k], message: `is set by pgtasks; ${managed}` }];
    if (k.toLowerCase() === 'wal_level' && String(v).toLowerCase() === 'minimal') return [{ path: [name, k], message: 'minimal cannot feed replicas; use replica or logical' }];
    return [];
  });
}

/** What is wrong with one pg_* variable's value: paths inside it (pg_registry.port) and messages. */
export function pgVarProblems(name: string, value: unknown): { path: Path; message: string }[] {
  const schema = (pgVarsSchema.shape as Record<string, z.ZodType>)[name];
  if (!schema) return [{ path: [name], message: `unknown variable${didYouMean(name, KNOWN) || ': pg_* names are pgtasks\' own (the README lists them)'}` }];
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

/** The definitions a built inventory still shows: each group's own variables, each host's merged ones. */
function inventoryDefinitions(inv: Inventory): VarDefinition[] {
  const defs: VarDefinition[] = [];
  for (const g of inv.groups.values()) for (const [name, value] of Object.entries(g.vars)) defs.push({ name, value, origin: g.origins?.[name], scope: `group ${g.name}` });
  for (const h of inv.hosts.values()) for (const [name, value] of Object.entries(h.vars)) defs.push({ name, value, origin: h.origins?.[name], scope: `host ${h.name}` });
  return defs;
}

/** Everything wrong with a built inventory's pg_* variables, one line each (for inventories built in code). */
export function inventoryProblems(inv: Inventory): string[] {
  return problemLines([...definitionProblems(inventoryDefinitions(inv)), ...clusterProblemList(inv)], inv.sources);
}

interface Node {
  host: string;
  address: string;
  vars: PgVars;
  origin: (name: keyof PgVars) => Origin | undefined;
  /** Whether the inventory sets it at all (else the value is the default). */
  isSet: (name: keyof PgVars) => boolean;
  /** Set, but to an invalid value (reported on its own): left out of the cluster checks. */
  invalid: Set<string>;
}

/** Members of each cluster whose own variables are valid (the invalid ones are reported already). */
function clusterNodes(inv: Inventory): Map<string, Node[]> {
  const base = inv.dir ?? process.cwd();
  const clusters = new Map<string, Node[]>();
  for (const h of inv.hosts.values()) {
    if (h.vars.pg_cluster === undefined) continue;
    // Invalid values are reported on their own; the cluster is checked with the valid ones (and the
    // defaults), so that one run shows every problem, not only the first layer of them.
    const invalid = new Set(Object.entries(h.vars).filter(([k, v]) => k.startsWith('pg_') && pgVarProblems(k, v).length > 0).map(([k]) => k));
    const parsed = pgVarsSchema.safeParse(Object.fromEntries(Object.entries(h.vars).filter(([k]) => k.startsWith('pg_') && !invalid.has(k))));
    if (!parsed.success) continue;
    // Compared resolved: ./credentials in a group and the same folder spelled absolute agree.
    const vars = withAbsolutePaths(parsed.data, base);
    const node: Node = { host: h.name, address: String(h.vars.ansible_host ?? h.name), vars, origin: (name) => h.origins?.[name], isSet: (name) => name in h.vars, invalid };
    clusters.set(vars.pg_cluster, [...(clusters.get(vars.pg_cluster) ?? []), node]);
  }
  return clusters;
}

/** "a", "a and b", "a, b and c" */
const listed = (items: string[]) => (items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`);
/** "file:12", or "line 12" when the message is already about that file. */
const lineOf = (o: Origin, here?: Origin) => (o.line ? (here?.file === o.file ? `line ${o.line}` : `${o.file}:${o.line}`) : o.file);
/** Where a node's value comes from, for a message about another line: "inv.yml:3", "the default", or nothing. */
const source = (n: Node, key: keyof PgVars, here?: Origin) => {
  const o = n.origin(key);
  return o ? lineOf(o, here) : n.isSet(key) ? undefined : 'the default';
};

/** Combinations no cluster can run with: members disagreeing on a cluster-wide setting, two pg_primary, ... */
export function clusterProblemList(inv: Inventory): VarProblem[] {
  const out: VarProblem[] = [];
  for (const [name, nodes] of clusterNodes(inv)) {
    const problem = (node: Node, key: keyof PgVars, message: string) => out.push({ origin: node.origin(key), scope: `host ${node.host}`, message: `cluster ${name}: ${message}` });
    for (const key of CLUSTER_WIDE) {
      const byValue = new Map<string, Node[]>();
      for (const n of nodes.filter((m) => !m.invalid.has(key))) byValue.set(show(n.vars[key]), [...(byValue.get(show(n.vars[key])) ?? []), n]);
      if (byValue.size < 2) continue;
      const [[firstValue, firstNodes], ...others] = [...byValue];
      for (const [value, ns] of others) {
        const here = ns[0]!.origin(key);
        const described = (v: string, on: Node[]) => `${on.map((n) => n.host).join(', ')} (${[v, source(on[0]!, key, here)].filter(Boolean).join(', ')})`;
        problem(ns[0]!, key, `${key} differs between ${described(firstValue!, firstNodes!)} and ${described(value, ns)}; it must be the same on every member of a cluster`);
      }
    }
    const primaries = nodes.filter((n) => n.vars.pg_primary);
    if (primaries.length > 1) {
      const here = primaries[1]!.origin('pg_primary');
      const sources = new Set(primaries.map((p) => source(p, 'pg_primary')));
      const oneSetting = sources.size === 1 && here;
      const list = oneSetting ? `${listed(primaries.map((p) => p.host))}, all from this one setting` : listed(primaries.map((p) => [p.host, source(p, 'pg_primary', here)].filter(Boolean).join(' at ')));
      problem(primaries[1]!, 'pg_primary', `pg_primary is true on ${list}; set it on one host only`);
    }
    for (const p of primaries.filter((n) => n.vars.pg_state === 'absent')) {
      problem(p, 'pg_state', `${p.host} has pg_state: absent and pg_primary: true${p.origin('pg_primary') ? ` (${lineOf(p.origin('pg_primary')!, p.origin('pg_state'))})` : ''}; a removed host cannot be the primary`);
    }
    const present = nodes.filter((n) => n.vars.pg_state === 'present');
    const sync = nodes[0]!.vars.pg_sync_replicas;
    const replicas = Math.max(0, present.length - 1);
    if (sync > replicas && !nodes[0]!.invalid.has('pg_sync_replicas')) {
      const has = replicas === 0 ? 'no replica' : `only ${replicas} replica${replicas > 1 ? 's' : ''}`;
      problem(nodes[0]!, 'pg_sync_replicas', `pg_sync_replicas is ${sync} but the cluster has ${has} (members with pg_state: present: ${names(present) || 'none'}); every write would wait for a standby that does not exist`);
    }
    for (const n of present.filter((m) => m.vars.pg_pgbouncer && m.vars.pg_pgbouncer_port === m.vars.pg_port)) {
      problem(n, 'pg_pgbouncer_port', `${n.host}: pg_pgbouncer_port ${n.vars.pg_port} is also its pg_port (${source(n, 'pg_port', n.origin('pg_pgbouncer_port')) ?? 'set in code'}); PgBouncer and PostgreSQL cannot share a port`);
    }
  }
  return out;
}

const names = (nodes: Node[]) => nodes.map((n) => n.host).join(', ');

/** No cluster to work on: an empty inventory, or one where no host has pg_cluster. */
export function noClusterError(inv: Inventory): UserError {
  const what = inv.sources.length ? inv.sources.join(', ') : (inv.dir ?? 'the inventory');
  if (inv.hosts.size === 0) return new UserError(`${what}: the inventory has no hosts; add the hosts of a cluster with pg_cluster set (see inventory/lab.yml)`);
  return new UserError(`${what}: no host has pg_cluster set (${inv.hosts.size} host${inv.hosts.size === 1 ? '' : 's'} read), so there is no cluster to work on; set pg_cluster on the hosts of each cluster`);
}
