import { BouncerFleet, PauseAborted } from '../src/cluster/bouncer-fleet.js';
import { clusterCredentials, ADMIN_USER } from '../src/cluster/credentials.js';
import { gatherCluster } from '../src/cluster/gather.js';
import { currentPrimary, PRIMARY_ACTIVITY_SQL, switchoverProblems, type PrimaryActivity } from '../src/cluster/switchover-checks.js';
import { listenForSwitchoverInterrupt } from '../src/cluster/switchover-interrupt.js';
import { slotName, type ClusterSpec, type Member } from '../src/cluster/vars.js';
import type { Status } from '../src/engine/events.js';
import type { Run } from '../src/engine/run.js';
import type { PgNodeFacts } from '../src/facts/postgres.js';
import { pgSession, type PgSession } from '../src/steps/pg-client.js';
import { psql } from '../src/steps/postgres.js';
import { configureCluster } from './cluster.js';
import { handoverContext, prepareTarget, streamFromTarget, writeBouncerIni } from './handover.js';
import { fastStop, promoteNow, restartAsPrimary, waitForReplay, waitForStreaming } from './switchover-steps.js';
import { syncSetting } from './sync.js';

export interface SwitchoverOptions {
  target: string;
  maxLagBytes: number;
  maxTxAgeSeconds: number;
  force: boolean;
  /** How long PAUSE may wait for running transactions before the switchover is called off. */
  pauseTimeoutMs: number;
  catchupTimeoutMs: number;
}

/**
 * migrate-to-master: moves the primary role to `target` with PgBouncer clients seeing no error.
 *
 * Everything that can be done before clients wait is done first: checkpoint, the target's slots and
 * its synchronous_standby_names (a standby ignores it; it is in effect the moment it is promoted, so
 * no acknowledged commit ever lands on a primary without its sync replica), the other replicas
 * cascading from the target (they follow its promotion by themselves), PgBouncer's new ini. Then,
 * inside a bounded PAUSE: clean stop of the primary as a standby, the target replays its shutdown
 * checkpoint, promotion, RELOAD, RESUME. configure-cluster then converges the rest.
 */
export async function switchover(run: Run, spec: ClusterSpec, opts: SwitchoverOptions): Promise<void> {
  const timings: Record<string, number> = {};
  const t0 = Date.now();
  let gathered = await gatherCluster(run, spec);
  if ([...gathered.bouncers.values()].some((b) => b.paused)) {
    // A switchover died half-way (its pause marker is still there): finish or undo it first.
    run.message(`an interrupted switchover left PgBouncer paused: converging ${spec.name} first`);
    if (run.options.check) return;
    await configureCluster(run, spec);
    gathered = await gatherCluster(run, spec);
  }
  const primary = currentPrimary(gathered.members);
  const target = spec.members.find((m) => m.host === opts.target);
  let activity: PrimaryActivity | undefined;
  if (primary && gathered.members.every((m) => m.facts)) {
    const rows = await psql(await run.context(primary.host), spec.port, `${PRIMARY_ACTIVITY_SQL};`);
    activity = JSON.parse(rows[0]![0]!) as PrimaryActivity;
  }
  const problems = switchoverProblems(spec, opts.target, gathered.members, activity, opts);
  if (problems.length || !primary || !target) {
    run.refuse(`migrate-to-master ${opts.target}: ${problems.join('; ')}; nothing was changed`);
    return;
  }
  const facts = new Map(gathered.members.map((m) => [m.member.host, m.facts!] as [string, PgNodeFacts]));
  const version = facts.get(primary.host)!.version;
  const creds = await clusterCredentials(spec.credentialsDir, spec.name, false, run.secrets);
  const cc = handoverContext(run, spec, target, gathered, facts, version, creds);
  const others = cc.plan.replicas
    .map((r) => r.member)
    .filter((m) => m.host !== primary.host && facts.get(m.host)?.state === 'REPLICA' && facts.get(m.host)?.running);
  // Cascading early keeps the old primary's sync replica count only while one sync replica is asked for.
  const cascadeEarly = spec.syncReplicas <= 1;
  const sync = syncSetting(cc.plan.syncCandidates, spec.syncReplicas);
  run.message(
    `plan: prepare (checkpoint on ${primary.host}; slots ${cc.plan.replicas.map((r) => slotName(r.member.host)).join(', ') || 'none'} and synchronous_standby_names '${sync}' on ${target.host}` +
      `${others.length ? `; ${others.map((m) => m.host).join(', ')} stream from ${target.host}${cascadeEarly ? '' : ' (inside the pause)'}` : ''}; PgBouncer ini pointing at ${target.address}); ` +
      `pause PgBouncer (at most ${opts.pauseTimeoutMs} ms); stop ${primary.host} cleanly and mark it standby; promote ${target.host} once it has replayed the shutdown checkpoint; reload and resume PgBouncer; then ${primary.host} follows ${target.host}`,
  );
  if (run.options.check) return;

  const step = (host: string, name: string, status: Status, message: string) =>
    run.emit({ type: 'step', host, step: `switchover: ${name}`, status, message, check: false });
  const primaryCtx = await run.context(primary.host);
  const targetCtx = await run.context(target.host);
  const admin = { user: ADMIN_USER, password: creds.admin, database: 'postgres' };
  const [targetSession, primarySession, fleet] = await Promise.all([
    pgSession(targetCtx, { ...admin, port: spec.port }),
    pgSession(primaryCtx, { ...admin, port: spec.port }),
    BouncerFleet.open(run, spec, gathered.bouncers.keys(), creds.admin),
  ]);
  let promoted = false;
  // Until the old primary is stopped, Ctrl-C (or SIGTERM) calls the switchover off at once: clients
  // resumed, the preparation put back by the converge below.
  const interrupt = listenForSwitchoverInterrupt(run);
  try {
    let t = Date.now();
    const cascade = (hosts: Member[]) => Promise.all(hosts.map((m) => streamFromTarget(run, cc, m.host)));
    await Promise.all([
      primarySession.query('CHECKPOINT'),
      prepareTarget(targetCtx, targetSession, cc),
      ...fleet.hosts.map((h) => writeBouncerIni(run, cc, h)),
      cascadeEarly && cascade(others),
      fleet.markPausing(),
    ]);
    if (cascadeEarly && others.length && !interrupt.signal.aborted) {
      const missing = await waitForStreaming(
        targetSession,
        others.map((m) => slotName(m.host)),
        10_000,
      );
      if (missing.length) run.message(`${missing.join(', ')} not streaming from ${target.host} yet; the switchover goes on (they catch up after it)`);
    }
    timings.prepare = Date.now() - t;
    if (interrupt.signal.aborted) throw new PauseAborted('interrupted before the pause');
    const pausedAt = Date.now();
    try {
      await fleet.pause({
        timeoutMs: opts.pauseTimeoutMs,
        signal: interrupt.signal,
        onWait: async (ms) => run.message(`waiting ${Math.round(ms / 1000)} s for PgBouncer to pause: ${await describeBusy(primarySession)}`),
      });
      timings.pause = Date.now() - pausedAt;
      fleet.hosts.forEach((h) => step(h, 'pause', 'changed', 'PgBouncer paused: queries wait'));

      interrupt.stopping();
      t = Date.now();
      const [finalLsn] = await Promise.all([fastStop(primaryCtx, version, spec.name, primary.host), !cascadeEarly && cascade(others)]);
      timings.stop = Date.now() - t;
      step(primary.host, 'stop', 'changed', `stopped cleanly at ${finalLsn}, marked standby`);

      t = Date.now();
      try {
        await waitForReplay(targetSession, finalLsn, opts.catchupTimeoutMs);
        timings.catchup = Date.now() - t;
        t = Date.now();
        await promoteNow(targetSession);
        promoted = true;
        timings.promote = Date.now() - t;
        step(target.host, 'promote', 'changed', `replayed ${finalLsn}, promoted; synchronous_standby_names '${sync}'`);
      } catch (err) {
        const inRecovery = await targetSession.query<{ r: boolean }>('select pg_is_in_recovery() as r').catch(() => [{ r: true }]);
        if (!inRecovery[0]!.r) promoted = true;
        else {
          await restartAsPrimary(primaryCtx, version, spec.name);
          step(primary.host, 'rollback', 'changed', `${target.host} was not promoted (${(err as Error).message}); ${primary.host} is primary again`);
          throw err;
        }
      }
      t = Date.now();
      // The ini already names the target; PAUSE released every server connection, so RELOAD is enough.
      await fleet.command(['RELOAD']);
      timings.repoint = Date.now() - t;
    } finally {
      const failed = await fleet.resume();
      timings.clientsPaused = Date.now() - pausedAt;
      for (const f of failed) run.message(`RESUME failed on ${f}: the next pgtasks run on this cluster resumes it`);
      fleet.hosts.forEach((h) =>
        step(h, 'resume', failed.some((f) => f.startsWith(`${h}:`)) ? 'failed' : 'changed', `PgBouncer resumed${promoted ? ` on ${target.host}` : ''}`),
      );
    }
  } catch (err) {
    run.refuse(
      `migrate-to-master ${target.host}: ${(err as Error).message}${err instanceof PauseAborted ? `; clients resumed, ${primary.host} is still the primary (raise --pause-timeout, or wait for long transactions to end)` : ''}`,
    );
  } finally {
    interrupt.dispose();
    await Promise.all([targetSession.close(), primarySession.close(), fleet.close()]);
  }
  // Converge either way: after a promotion the old primary follows the target; after a refusal the
  // preparation (cascading replicas, the target's sync setting, PgBouncer's ini) is put back.
  if (!promoted) run.message(`putting the preparation back: ${primary.host} stays primary`);
  const t = Date.now();
  await configureCluster(run, spec);
  timings.converge = Date.now() - t;
  timings.total = Date.now() - t0;
  if (!promoted) return;
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
