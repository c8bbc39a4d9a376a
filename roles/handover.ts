import type { ClusterContext } from '../src/cluster/cluster-context.js';
import type { ClusterPlan } from '../src/cluster/plan.js';
import type { Credentials } from '../src/cluster/credentials.js';
import type { GatheredCluster } from '../src/cluster/gather.js';
import type { PgNodeFacts } from '../src/facts/postgres.js';
import type { ClusterSpec, Member } from '../src/cluster/vars.js';
import { slotName } from '../src/cluster/vars.js';
import type { HostContext } from '../src/engine/host-context.js';
import type { Run } from '../src/engine/run.js';
import type { PgSession } from '../src/steps/pg-client.js';
import { lit, psql } from '../src/steps/postgres.js';
import { configFiles } from './config.js';
import { PGBOUNCER_INI, pgbouncerFiles } from './pgbouncer.js';
import { syncFile, syncSetting } from './sync.js';

/**
 * What a switchover and a failover prepare before the new primary takes writes, given `cc` planned
 * as the cluster will be afterwards (its primary the target). Each piece is harmless if the handover
 * never happens: the next converge puts it back.
 */

/** The cluster as it will be once `target` is primary: everybody else present is its replica, inventory order. */
export function planAfterSwitchover(spec: ClusterSpec, target: Member): ClusterPlan {
  const replicas = spec.members.filter((m) => m.host !== target.host && m.vars.pg_state === 'present').map((member) => ({ member, action: 'keep' as const }));
  return {
    cluster: spec.name,
    primary: target,
    primaryAction: 'keep',
    replicas,
    deactivate: [],
    syncCandidates: spec.syncReplicas > 0 ? replicas.map((r) => slotName(r.member.host)) : [],
    notes: [],
  };
}

/** The cluster as it will be once `target` is primary, with what the facts said of each member. */
export function handoverContext(
  run: Run,
  spec: ClusterSpec,
  target: Member,
  gathered: GatheredCluster,
  facts: Map<string, PgNodeFacts>,
  version: number,
  creds: Credentials,
): ClusterContext {
  return {
    spec,
    plan: planAfterSwitchover(spec, target),
    version,
    creds,
    facts,
    systemd: gathered.systemd,
    bouncers: gathered.bouncers,
    touched: run.changes.since(run.changes.mark()),
    templates: run.templates,
  };
}

/** The target's slots for its future replicas, and its synchronous_standby_names, loaded while it is still a standby. */
export async function prepareTarget(ctx: HostContext, session: PgSession, cc: ClusterContext): Promise<void> {
  const slots = cc.plan.replicas.map((r) => slotName(r.member.host));
  if (slots.length) {
    await session.query(
      slots
        .map((s) => `select pg_create_physical_replication_slot(${lit(s)}) where not exists (select 1 from pg_replication_slots where slot_name = ${lit(s)})`)
        .join(';\n'),
    );
  }
  const file = syncFile(cc.version, cc.spec.name, syncSetting(cc.plan.syncCandidates, cc.spec.syncReplicas), cc.spec.syncReplicas);
  await ctx.put(file.path, file.content, { owner: file.owner, group: file.group, mode: file.mode });
  await session.query('select pg_reload_conf()');
}

/** Points a replica at the target (its configuration as it will be afterwards) and reloads: it streams from the target, and follows its promotion by itself. */
export async function streamFromTarget(run: Run, cc: ClusterContext, host: string): Promise<void> {
  const ctx = await run.context(host);
  const conf = configFiles(cc, host).find((f) => f.path.endsWith('/postgresql.conf'))!;
  await ctx.put(conf.path, conf.content, { owner: conf.owner, group: conf.group, mode: conf.mode });
  await psql(ctx, cc.spec.port, 'select pg_reload_conf();');
}

/** PgBouncer's ini pointing at the target, written now and loaded by the RELOAD at the switch. */
export async function writeBouncerIni(run: Run, cc: ClusterContext, host: string): Promise<void> {
  const ini = pgbouncerFiles(cc.spec, host, cc.plan.primary.address, [], cc.templates).find((f) => f.path === PGBOUNCER_INI)!;
  await (await run.context(host)).put(ini.path, ini.content, { owner: ini.owner, group: ini.group, mode: ini.mode });
}
