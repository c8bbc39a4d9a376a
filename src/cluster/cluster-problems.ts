import type { Inventory, Origin } from '../inventory/types.js';
import { UserError } from '../errors.js';
import { CLUSTER_WIDE, pgVarsSchema, withAbsolutePaths, type PgVars } from './pg-vars-schema.js';
import { addressProblems } from './address-problems.js';
import { definitionProblems, pgVarProblems, problemLines, show, type VarDefinition, type VarProblem } from './value-problems.js';

/*
 * Checks of a cluster's pg_* variables together: settings members must share, one pg_primary,
 * enough replicas for pg_sync_replicas, ports. Each problem is reported at the line that set the
 * odd value (a default: at the line that made the host a member).
 */

interface CheckedMember {
  host: string;
  vars: PgVars;
  origin: (name: keyof PgVars) => Origin | undefined;
  /** Whether the inventory sets it at all (else the value is the default). */
  isSet: (name: keyof PgVars) => boolean;
  /** Set, but to an invalid value (reported on its own): left out of the cluster checks. */
  invalid: Set<string>;
}

/** Members of each cluster whose own variables are valid (the invalid ones are reported already). */
function checkedMembers(inv: Inventory): Map<string, CheckedMember[]> {
  const base = inv.dir ?? '.'; // as inventoryDir(): node:path resolves '.' against the working directory
  const clusters = new Map<string, CheckedMember[]>();
  for (const h of inv.hosts.values()) {
    if (h.vars.pg_cluster === undefined) continue;
    // Invalid values are reported on their own; the cluster is checked with the valid ones (and the
    // defaults), so that one run shows every problem, not only the first layer of them.
    const invalid = new Set(
      Object.entries(h.vars)
        .filter(([k, v]) => k.startsWith('pg_') && pgVarProblems(k, v).length > 0)
        .map(([k]) => k),
    );
    const parsed = pgVarsSchema.safeParse(Object.fromEntries(Object.entries(h.vars).filter(([k]) => k.startsWith('pg_') && !invalid.has(k))));
    if (!parsed.success) continue;
    // Compared resolved: ./credentials in a group and the same folder spelled absolute agree.
    const vars = withAbsolutePaths(parsed.data, base);
    const member: CheckedMember = { host: h.name, vars, origin: (name) => h.origins?.[name], isSet: (name) => name in h.vars, invalid };
    clusters.set(vars.pg_cluster, [...(clusters.get(vars.pg_cluster) ?? []), member]);
  }
  return clusters;
}

const names = (nodes: CheckedMember[]) => nodes.map((n) => n.host).join(', ');

/** "a", "a and b", "a, b and c" */
const listed = (items: string[]) => (items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`);
/** "file:12", or "line 12" when the message is already about that file. */
const lineOf = (o: Origin, here?: Origin) => (o.line ? (here?.file === o.file ? `line ${o.line}` : `${o.file}:${o.line}`) : o.file);
/** Where a node's value comes from, for a message about another line: "inv.yml:3", "the default", or nothing. */
const source = (n: CheckedMember, key: keyof PgVars, here?: Origin) => {
  const o = n.origin(key);
  return o ? lineOf(o, here) : n.isSet(key) ? undefined : 'the default';
};

/** Combinations no cluster can run with: members disagreeing on a cluster-wide setting, two pg_primary, ... */
export function clusterProblemList(inv: Inventory): VarProblem[] {
  const out: VarProblem[] = addressProblems(inv);
  for (const [name, nodes] of checkedMembers(inv)) {
    // A default value has no line: the line that put the host in the cluster stands in for it.
    const lineFor = (node: CheckedMember, key: keyof PgVars) => node.origin(key) ?? node.origin('pg_cluster');
    const problem = (node: CheckedMember, key: keyof PgVars, message: string) =>
      out.push({ origin: lineFor(node, key), scope: `host ${node.host}`, message: `cluster ${name}: ${message}` });
    for (const key of CLUSTER_WIDE) {
      // Compared whole (show() shortens long values: two pg_users lists differing late would look alike).
      const byValue = new Map<string, CheckedMember[]>();
      for (const n of nodes.filter((m) => !m.invalid.has(key))) {
        const whole = JSON.stringify(n.vars[key]) ?? 'undefined';
        byValue.set(whole, [...(byValue.get(whole) ?? []), n]);
      }
      if (byValue.size < 2) continue;
      // The value most members have is the reference; the others are reported where they are set.
      const [firstCheckedMembers, ...others] = [...byValue.values()].sort((a, b) => b.length - a.length);
      const firstValue = show(firstCheckedMembers![0]!.vars[key]);
      for (const ns of others) {
        const value = show(ns[0]!.vars[key]);
        const here = lineFor(ns[0]!, key);
        const described = (v: string, on: CheckedMember[]) =>
          `${on.map((n) => n.host).join(', ')} (${[v, source(on[0]!, key, here)].filter(Boolean).join(', ')})`;
        problem(
          ns[0]!,
          key,
          `${key} differs between ${described(firstValue!, firstCheckedMembers!)} and ${described(value, ns)}; it must be the same on every member of a cluster`,
        );
      }
    }
    const primaries = nodes.filter((n) => n.vars.pg_primary);
    if (primaries.length > 1) {
      const here = lineFor(primaries[1]!, 'pg_primary');
      const sources = new Set(primaries.map((p) => source(p, 'pg_primary')));
      const oneSetting = sources.size === 1 && here;
      const list = oneSetting
        ? `${listed(primaries.map((p) => p.host))}, all from this one setting`
        : listed(primaries.map((p) => [p.host, source(p, 'pg_primary', here)].filter(Boolean).join(' at ')));
      problem(primaries[1]!, 'pg_primary', `pg_primary is true on ${list}; set it on one host only`);
    }
    for (const p of primaries.filter((n) => n.vars.pg_state === 'absent')) {
      problem(
        p,
        'pg_state',
        `${p.host} has pg_state: absent and pg_primary: true${p.origin('pg_primary') ? ` (${lineOf(p.origin('pg_primary')!, lineFor(p, 'pg_state'))})` : ''}; a removed host cannot be the primary`,
      );
    }
    const present = nodes.filter((n) => n.vars.pg_state === 'present');
    const sync = nodes[0]!.vars.pg_sync_replicas;
    const replicas = Math.max(0, present.length - 1);
    if (sync > replicas && !nodes[0]!.invalid.has('pg_sync_replicas')) {
      const has = replicas === 0 ? 'no replica' : `only ${replicas} replica${replicas > 1 ? 's' : ''}`;
      problem(
        nodes[0]!,
        'pg_sync_replicas',
        `pg_sync_replicas is ${sync} but the cluster has ${has} (members with pg_state: present: ${names(present) || 'none'}); every write would wait for a standby that does not exist`,
      );
    }
    const withBackup = nodes.find((n) => n.vars.pg_backup && !n.invalid.has('pg_backup'));
    const repo = withBackup?.vars.pg_backup?.repo_host;
    if (withBackup && repo !== undefined) {
      const repoHost = inv.hosts.get(repo);
      if (!repoHost) problem(withBackup, 'pg_backup', `pg_backup.repo_host ${repo} is not a host of the inventory; add it (it needs no pg_* variable)`);
      else if (repoHost.vars.pg_cluster !== undefined)
        problem(
          withBackup,
          'pg_backup',
          `pg_backup.repo_host ${repo} is a PostgreSQL member (of cluster ${String(repoHost.vars.pg_cluster)}); backups must live on a host of their own`,
        );
    }
    for (const n of present.filter((m) => m.vars.pg_replica_source === 'backup' && !m.vars.pg_backup)) {
      problem(n, 'pg_replica_source', `${n.host}: pg_replica_source is backup but the cluster has no pg_backup; set pg_backup or pg_replica_source: primary`);
    }
    userReferenceProblems(nodes[0]!, (key, message) => problem(nodes[0]!, key, message));
    for (const n of present.filter((m) => m.vars.pg_pgbouncer && m.vars.pg_pgbouncer_port === m.vars.pg_port)) {
      const key = n.isSet('pg_pgbouncer_port') ? 'pg_pgbouncer_port' : 'pg_port';
      const from = (k: keyof PgVars) => source(n, k, lineFor(n, key)) ?? 'set in code';
      problem(
        n,
        key,
        `${n.host}: pg_pgbouncer_port (${from('pg_pgbouncer_port')}) and pg_port (${from('pg_port')}) are both ${n.vars.pg_port}; PgBouncer and PostgreSQL cannot share a port`,
      );
    }
  }
  return out;
}

/**
 * pg_users and pg_databases together: a database owned by, a grant to, a membership in or a reassignment
 * to a user the same inventory drops (state: absent) cannot all hold at once.
 */
function userReferenceProblems(n: CheckedMember, problem: (key: keyof PgVars, message: string) => void): void {
  if (n.invalid.has('pg_users')) return;
  const absent = new Set(n.vars.pg_users.filter((u) => u.state === 'absent').map((u) => u.name));
  const gone = (role: string) => absent.has(role);
  for (const u of n.vars.pg_users) {
    for (const g of u.member_of.filter(gone)) problem('pg_users', `pg_users: ${u.name} is member_of ${g}, which has state: absent`);
    if (u.reassign_owned_to && gone(u.reassign_owned_to))
      problem('pg_users', `pg_users: ${u.name} reassigns what it owns to ${u.reassign_owned_to}, which has state: absent`);
  }
  if (n.invalid.has('pg_databases')) return;
  for (const d of n.vars.pg_databases.filter((x) => x.state === 'present')) {
    if (gone(d.owner)) problem('pg_databases', `pg_databases: ${d.name} is owned by ${d.owner}, which has state: absent in pg_users`);
    for (const g of d.grants.filter((x) => gone(x.role)))
      problem('pg_databases', `pg_databases: ${d.name} grants ${g.privileges} to ${g.role}, which has state: absent in pg_users`);
  }
}

/** No cluster to work on: an empty inventory, or one where no host has pg_cluster. */
export function noClusterError(inv: Inventory): UserError {
  const what = inv.sources.length ? inv.sources.join(', ') : (inv.dir ?? 'the inventory');
  if (inv.hosts.size === 0) return new UserError(`${what}: the inventory has no hosts; add the hosts of a cluster with pg_cluster set (see inventory/lab.yml)`);
  return new UserError(
    `${what}: no host has pg_cluster set (${inv.hosts.size} host${inv.hosts.size === 1 ? '' : 's'} read), so there is no cluster to work on; set pg_cluster on the hosts of each cluster`,
  );
}

/** The definitions a built inventory still shows: each group's own variables, each host's merged ones. */
function inventoryDefinitions(inv: Inventory): VarDefinition[] {
  const defs: VarDefinition[] = [];
  for (const g of inv.groups.values())
    for (const [name, value] of Object.entries(g.vars)) defs.push({ name, value, origin: g.origins?.[name], scope: `group ${g.name}` });
  for (const h of inv.hosts.values())
    for (const [name, value] of Object.entries(h.vars)) defs.push({ name, value, origin: h.origins?.[name], scope: `host ${h.name}` });
  return defs;
}

/** Everything wrong with a built inventory's pg_* variables, one line each (for inventories built in code). */
export function inventoryProblems(inv: Inventory): string[] {
  return problemLines([...definitionProblems(inventoryDefinitions(inv)), ...clusterProblemList(inv)], inv.sources);
}
