import { BouncerFleet, PauseAborted } from '../src/cluster/bouncer-fleet.js';
import type { ClusterContext } from '../src/cluster/cluster-context.js';
import { clusterCredentials, ADMIN_USER } from '../src/cluster/credentials.js';
import { gatherCluster } from '../src/cluster/gather.js';
import { currentPrimary, PRIMARY_ACTIVITY_SQL, type PrimaryActivity } from '../src/cluster/switchover-checks.js';
import { listenForSwitchoverInterrupt } from '../src/cluster/switchover-interrupt.js';
import { planSwitchover, stage, type Phase, type SwitchoverPlan } from '../src/cluster/switchover-plan.js';
import { slotName, type ClusterSpec } from '../src/cluster/vars.js';
import { call, sqlAction, type Action } from '../src/engine/action.js';
import type { Run } from '../src/engine/run.js';
import { StepFailed } from '../src/engine/step.js';
import type { PgNodeFacts } from '../src/facts/postgres.js';
import { pgSession, type PgSession } from '../src/steps/pg-client.js';
import { query } from '../src/steps/postgres.js';
import { configureCluster } from './cluster.js';
import { bouncerIniAction, handoverContext, pauseMarkerAction, perform, prepareTargetActions, runStage, streamFromTargetActions } from './handover.js';
import { fastStop, fastStopCommand, promoteNow, restartAsPrimaryActions, waitForReplay, waitForStreaming } from './switchover-steps.js';

export interface SwitchoverOptions {
  target: string;
  maxLagBytes: number;
  maxTxAgeSeconds: number;
  force: boolean;
  /** How long PAUSE may wait for running transactions before the switchover is called off. */
  pauseTimeoutMs: number;
  catchupTimeoutMs: number;
}

/** What the switchover's steps share while they run: the sessions and the fleet opened before (none in check mode). */
export interface SwitchoverHandles {
  targetSession?: PgSession;
  primarySession?: PgSession;
  fleet?: BouncerFleet;
  /** The fleet-wide PAUSE, started by the first pause step and awaited by all. */
  pause?: () => Promise<void>;
  /** The old primary's shutdown checkpoint, read by its stop step, awaited by the target's promote step. */
  finalLsn?: string;
  promoted?: boolean;
  /** A PAUSE that was called off (timeout, Ctrl-C): clients were resumed, the switchover ends here. */
  aborted?: PauseAborted;
  timings: Record<string, number>;
}

const the = <T>(value: T | undefined, what: string): T => {
  if (value === undefined) throw new Error(`${what} is not open`);
  return value;
};

/**
 * The actions of each of the switchover's steps, as data where they can be: the calls are what needs
 * an earlier result (the shutdown LSN) or a session opened before (the target's, PgBouncer's consoles),
 * so that nothing inside the pause pays for an SSH round trip or a psql start.
 */
export function switchoverActions(cc: ClusterContext, plan: SwitchoverPlan, h: SwitchoverHandles, catchupTimeoutMs: number): (p: Phase) => Action[] {
  const { primary, target, version } = plan;
  const targetSession = () => the(h.targetSession, `the admin session on ${target.host}`);
  const fleet = () => the(h.fleet, 'PgBouncer');
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t = Date.now();
    const value = await fn();
    h.timings[name] = Date.now() - t;
    return value;
  };
  const byStep: Record<string, (host: string) => Action[]> = {
    'switchover: checkpoint': () => [sqlAction(cc.spec.port, 'CHECKPOINT;')],
    'switchover: prepare': () => prepareTargetActions(cc, targetSession),
    'switchover: cascade': (host) => streamFromTargetActions(cc, host),
    'switchover: PgBouncer ini': (host) => [bouncerIniAction(cc, host), pauseMarkerAction()],
    'switchover: pause': () => [
      call('PAUSE every PgBouncer of the cluster together; past the bound, or on Ctrl-C, RESUME them all and call the switchover off', async () => {
        await the(h.pause, 'the pause')();
      }),
    ],
    'switchover: stop': () => [
      call(
        `stop PostgreSQL by SIGINT to the postmaster, watched every 10 ms; mark it standby; read its shutdown checkpoint: ${fastStopCommand(version, cc.spec.name)}`,
        (ctx) => timed('stop', async () => void (h.finalLsn = await fastStop(ctx, version, cc.spec.name, primary.host))),
      ),
    ],
    'switchover: promote': () => [
      call(`wait until ${target.host} has replayed ${primary.host}'s shutdown checkpoint (every 5 ms, at most ${catchupTimeoutMs} ms)`, () =>
        timed('catchup', () => waitForReplay(targetSession(), the(h.finalLsn, 'the shutdown checkpoint'), catchupTimeoutMs)).catch(promotedAnyway),
      ),
      call('select pg_promote(false), then watch pg_is_in_recovery() every 5 ms', async () => {
        if (!h.promoted) await timed('promote', () => promoteNow(targetSession())).catch(promotedAnyway);
        h.promoted = true;
      }),
    ],
    // The ini already names the target; PAUSE released every server connection, so RELOAD is enough.
    'switchover: reload': (host) => [call('RELOAD (on the open admin console)', () => fleet().command(['RELOAD'], [host]))],
    'switchover: resume': (host) => [
      call('RESUME (on the open admin console), then remove the pause marker', async () => {
        const failed = await fleet().resume([host]);
        if (failed.length) throw new Error(`RESUME failed on ${failed.join('; ')}: the next pgtasks run on this cluster resumes it`);
      }),
    ],
  };
  // A step that failed after the target left recovery did promote it (a timeout racing the promotion).
  const promotedAnyway = async (err: Error) => {
    const rows = await targetSession()
      .query<{ r: boolean }>('select pg_is_in_recovery() as r')
      .catch(() => [{ r: true }]);
    if (rows[0]!.r) throw err;
    h.promoted = true;
  };
  return (p) => {
    const build = byStep[p.step];
    if (!build) throw new Error(`no actions for ${p.step}`);
    return build(p.host);
  };
}

/**
 * migrate-to-master: moves the primary role to `target` with PgBouncer clients seeing no error.
 *
 * Everything that can be done before clients wait is done first: checkpoint, the target's slots and
 * its synchronous_standby_names (a standby ignores it; it is in effect the moment it is promoted, so
 * no acknowledged commit ever lands on a primary without its sync replica), the other replicas
 * cascading from the target (they follow its promotion by themselves), PgBouncer's new ini. Then,
 * inside a bounded PAUSE: clean stop of the primary as a standby, the target replays its shutdown
 * checkpoint, promotion, RELOAD, RESUME. configure-cluster then converges the rest. The decision is
 * planSwitchover's; each step is an engine step (reported, masked, described in check mode).
 */
export async function switchover(run: Run, spec: ClusterSpec, opts: SwitchoverOptions): Promise<void> {
  const t0 = Date.now();
  let gathered = await gatherCluster(run, spec);
  if ([...gathered.bouncers.values()].some((b) => b.paused)) {
    // A switchover died half-way (its pause marker is still there): finish or undo it first.
    run.message(`an interrupted switchover left PgBouncer paused: converging ${spec.name} first`);
    if (run.options.check) return;
    await configureCluster(run, spec);
    gathered = await gatherCluster(run, spec);
  }
  const current = currentPrimary(gathered.members);
  let activity: PrimaryActivity | undefined;
  if (current && gathered.members.every((m) => m.facts)) {
    const rows = await query((await run.context(current.host)).view, spec.port, `${PRIMARY_ACTIVITY_SQL};`);
    activity = JSON.parse(rows[0]![0]!) as PrimaryActivity;
  }
  const plan = planSwitchover(spec, gathered.members, gathered.bouncers.keys(), activity, opts);
  if ('refusal' in plan) {
    run.refuse(`migrate-to-master ${opts.target}: ${plan.refusal}; nothing was changed`);
    return;
  }
  const { primary, target } = plan;
  run.message(plan.message);
  const facts = new Map(gathered.members.filter((m) => m.facts).map((m) => [m.member.host, m.facts!] as [string, PgNodeFacts]));
  const creds = await clusterCredentials(spec.credentialsDir, spec.name, false, run.secrets);
  const cc = handoverContext(run, spec, target, gathered, facts, plan.version, creds);
  const h: SwitchoverHandles = { timings: {} };
  const actionsOf = switchoverActions(cc, plan, h, opts.catchupTimeoutMs);
  const failed = new Set<string>();
  // A PAUSE called off (past --pause-timeout, or Ctrl-C) says so on its step, not "paused".
  const outcomeOf = (p: Phase) => (p.stage === 'pause' && h.aborted ? `PAUSE called off: ${h.aborted.message}; every PgBouncer resumed` : undefined);
  const stageOf = (name: string) => runStage(run, stage(plan.phases, name), actionsOf, failed, outcomeOf);
  if (run.options.check) {
    // Nothing is opened and nothing runs: each step says what it would do (with -v, every action).
    for (const name of ['prepare', 'pause', 'stop', 'promote', 'repoint', 'resume']) await stageOf(name);
    return;
  }

  const admin = { user: ADMIN_USER, password: creds.admin, database: 'postgres' };
  [h.targetSession, h.primarySession, h.fleet] = await Promise.all([
    pgSession(await run.context(target.host), { ...admin, port: spec.port }),
    pgSession(await run.context(primary.host), { ...admin, port: spec.port }),
    BouncerFleet.open(run, spec, plan.bouncers, creds.admin),
  ]);
  const timings = h.timings;
  // Until the old primary is stopped, Ctrl-C (or SIGTERM) calls the switchover off at once: clients
  // resumed, the preparation put back by the converge below.
  const interrupt = listenForSwitchoverInterrupt(run);
  let pausing: Promise<void> | undefined;
  h.pause = () =>
    (pausing ??= the(h.fleet, 'PgBouncer')
      .pause({
        timeoutMs: opts.pauseTimeoutMs,
        signal: interrupt.signal,
        onWait: async (ms) => run.message(`waiting ${Math.round(ms / 1000)} s for PgBouncer to pause: ${await describeBusy(h.primarySession!)}`),
      })
      .catch((err: Error) => {
        // Called off: every PgBouncer was resumed already; the switchover ends after these steps.
        if (!(err instanceof PauseAborted)) throw err;
        h.aborted = err;
      }));
  try {
    let t = Date.now();
    await stageOf('prepare');
    if (plan.cascadeEarly && plan.cascade.length && !interrupt.signal.aborted) {
      const missing = await waitForStreaming(
        h.targetSession!,
        plan.cascade.map((m) => slotName(m.host)),
        10_000,
      );
      if (missing.length) run.message(`${missing.join(', ')} not streaming from ${target.host} yet; the switchover goes on (they catch up after it)`);
    }
    timings.prepare = Date.now() - t;
    if (interrupt.signal.aborted) throw new PauseAborted('interrupted before the pause');
    const pausedAt = Date.now();
    try {
      await stageOf('pause');
      if (h.aborted) throw h.aborted;
      timings.pause = Date.now() - pausedAt;
      interrupt.stopping();
      await stageOf('stop');
      try {
        await stageOf('promote');
      } catch (err) {
        if (!(err instanceof StepFailed) || h.promoted) throw err;
        await perform(run, primary.host, 'switchover: rollback', `${target.host} was not promoted (${err.message}); ${primary.host} is primary again`, [
          ...restartAsPrimaryActions({ version: plan.version, cluster: spec.name, systemd: gathered.systemd.get(primary.host) ?? false }),
        ]);
        throw err;
      }
      t = Date.now();
      await stageOf('repoint');
      timings.repoint = Date.now() - t;
    } finally {
      // Every PgBouncer paused is resumed, whatever failed above (and only its own failure fails its step).
      const resume = stage(plan.phases, 'resume').map((p) => (h.promoted ? p : { ...p, summary: 'PgBouncer resumed' }));
      await runStage(run, resume, actionsOf).catch(() => {});
      timings.clientsPaused = Date.now() - pausedAt;
    }
  } catch (err) {
    run.refuse(
      `migrate-to-master ${target.host}: ${(err as Error).message}${err instanceof PauseAborted ? `; clients resumed, ${primary.host} is still the primary (raise --pause-timeout, or wait for long transactions to end)` : ''}`,
    );
  } finally {
    interrupt.dispose();
    await Promise.all([h.targetSession!.close(), h.primarySession!.close(), h.fleet!.close()]);
  }
  // Converge either way: after a promotion the old primary follows the target; after a refusal the
  // preparation (cascading replicas, the target's sync setting, PgBouncer's ini) is put back.
  if (!h.promoted) run.message(`putting the preparation back: ${primary.host} stays primary`);
  const t = Date.now();
  await configureCluster(run, spec);
  timings.converge = Date.now() - t;
  timings.total = Date.now() - t0;
  if (!h.promoted) return;
  const text = `switchover ${primary.host} -> ${target.host}: clients paused ${timings.clientsPaused} ms (pause ${timings.pause} ms, stop ${timings.stop} ms, catch-up ${timings.catchup} ms, promote ${timings.promote} ms, repoint ${timings.repoint} ms); prepared in ${timings.prepare} ms; converge ${timings.converge} ms; total ${timings.total} ms`;
  run.emit({ type: 'result', task: 'migrate-to-master', data: { from: primary.host, to: target.host, timings }, text });
}

/** What PAUSE is waiting for: the primary's transactions that still hold a server connection. */
async function describeBusy(session: PgSession): Promise<string> {
  // Only the statement's first word: its text may hold values nobody should find in a log.
  const rows = await session.query<{ pid: number; age: string; verb: string; state: string }>(
    `select pid, round(extract(epoch from now() - xact_start))::text || ' s' as age, upper(coalesce(substring(ltrim(query) from '^[A-Za-z]+'), '?')) as verb, state
       from pg_stat_activity where backend_type = 'client backend' and xact_start is not null and pid <> pg_backend_pid() order by xact_start limit 3`,
  );
  return rows.length
    ? rows.map((r) => `pid ${r.pid} in a transaction for ${r.age} (${r.state}: ${r.verb})`).join('; ')
    : 'no open transaction seen on the primary';
}
