import type { ClusterContext } from '../src/cluster/cluster-context.js';
import type { Credentials } from '../src/cluster/credentials.js';
import type { GatheredCluster } from '../src/cluster/gather.js';
import { planAfterSwitchover, type Phase } from '../src/cluster/switchover-plan.js';
import type { ClusterSpec, Member } from '../src/cluster/vars.js';
import { slotName } from '../src/cluster/vars.js';
import { sh } from '../src/connection/shell.js';
import { call, putAction, runAction, sqlAction, type Action } from '../src/engine/action.js';
import type { Status } from '../src/engine/events.js';
import type { Run } from '../src/engine/run.js';
import { change, runStep, step } from '../src/engine/step.js';
import { PAUSED_MARKER } from '../src/facts/pgbouncer.js';
import type { PgNodeFacts } from '../src/facts/postgres.js';
import type { PgSession } from '../src/steps/pg-client.js';
import { lit } from '../src/steps/postgres.js';
import { configFiles } from './config.js';
import { PGBOUNCER_INI, pgbouncerFiles } from './pgbouncer.js';
import { syncFile, syncSetting } from './sync.js';

export { planAfterSwitchover };

/**
 * What a switchover and a failover prepare before the new primary takes writes, given `cc` planned
 * as the cluster will be afterwards (its primary the target), as actions. Each piece is harmless if
 * the handover never happens: the next converge puts it back.
 */

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

/** SQL on an admin session opened before the handover (a round trip on a live connection, not a psql start). */
export function sessionSql(session: () => PgSession, sql: string): Action {
  return call(`on the open admin session: ${sql}`, async () => void (await session().query(sql)));
}

/** The target's slots for its future replicas, and its synchronous_standby_names, loaded while it is still a standby. */
export function prepareTargetActions(cc: ClusterContext, session: () => PgSession): Action[] {
  const slots = cc.plan.replicas.map((r) => slotName(r.member.host));
  const file = syncFile(cc.version, cc.spec.name, syncSetting(cc.plan.syncCandidates, cc.spec.syncReplicas), cc.spec.syncReplicas);
  return [
    ...(slots.length
      ? [
          sessionSql(
            session,
            slots
              .map(
                (s) =>
                  `select pg_create_physical_replication_slot(${lit(s)}) where not exists (select 1 from pg_replication_slots where slot_name = ${lit(s)})`,
              )
              .join(';\n'),
          ),
        ]
      : []),
    putAction(file),
    sessionSql(session, 'select pg_reload_conf()'),
  ];
}

/** Points a replica at the target (its configuration as it will be afterwards) and reloads: it streams from the target, and follows its promotion by itself. */
export function streamFromTargetActions(cc: ClusterContext, host: string): Action[] {
  const conf = configFiles(cc, host).find((f) => f.path.endsWith('/postgresql.conf'))!;
  return [putAction(conf), sqlAction(cc.spec.port, 'select pg_reload_conf();')];
}

/** PgBouncer's ini pointing at the target, written now and loaded by the RELOAD at the switch. */
export function bouncerIniAction(cc: ClusterContext, host: string): Action {
  return putAction(pgbouncerFiles(cc.spec, host, cc.plan.primary.address, [], cc.templates).find((f) => f.path === PGBOUNCER_INI)!);
}

/**
 * A marker beside PgBouncer's pid file before it is paused, so that a run killed while clients wait
 * is found out by the next one (PgBouncer before 1.21 cannot say it is paused). RESUME removes it.
 */
export const pauseMarkerAction = (): Action => runAction(sh`install -m 0644 /dev/null ${PAUSED_MARKER}`);

/** One engine step on one host, planned as this change: the engine runs the actions (or, in check mode, describes them) and reports. */
export async function perform(
  run: Run,
  host: string,
  name: string,
  summary: string,
  actions: Action[] | (() => Action[]),
  outcome?: () => string | undefined,
): Promise<Status> {
  return runStep(
    await run.context(host),
    step(name, async () => ({ ...change(summary, typeof actions === 'function' ? actions() : actions), outcome })),
  );
}

/**
 * Runs the phases of one stage as engine steps, all at once (hosts in parallel, as the handover
 * always did); resolves when every one has ended, then rejects with the first failure. A host that
 * failed a stage is skipped in the later ones (`failed` is shared across the stages of a run).
 */
export async function runStage(
  run: Run,
  phases: Phase[],
  actionsOf: (p: Phase) => Action[],
  failed: Set<string> = new Set(),
  outcomeOf: (p: Phase) => string | undefined = () => undefined,
): Promise<void> {
  const todo = phases.filter((p) => !failed.has(p.host));
  const results = await Promise.allSettled(
    todo.map((p) =>
      perform(
        run,
        p.host,
        p.step,
        p.summary,
        () => actionsOf(p),
        () => outcomeOf(p),
      ),
    ),
  );
  const errors = results.flatMap((r, i) => (r.status === 'rejected' ? [[todo[i]!.host, r.reason as Error] as const] : []));
  for (const [host] of errors) failed.add(host);
  if (errors.length) throw errors[0]![1];
}
