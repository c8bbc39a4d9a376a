import { isReplica, type ClusterContext } from '../src/cluster/cluster-context.js';
import { pendingRestarts } from '../src/cluster/pending-restarts.js';
import { withBouncersPaused } from '../src/cluster/pgbouncer-pause.js';
import {
  decideRestarts,
  describeChanges,
  ORDERED_SETTINGS,
  type HostRestartState,
  type RestartDecision,
  type SettingChange,
} from '../src/cluster/restart-order.js';
import type { Run } from '../src/engine/run.js';
import { sh } from '../src/connection/shell.js';
import type { HostContext } from '../src/engine/host-context.js';
import { call, sqlAction } from '../src/engine/action.js';
import { change, runSteps, step, type Step } from '../src/engine/step.js';
import { confDir, dataDir } from '../src/facts/postgres.js';
import { lit, pgLogTail, psql, query, type PgService } from '../src/steps/postgres.js';
import { restorePreviousConfig } from './config.js';
import { serviceAction, serviceOf } from './service.js';

/** How long the primary's restart may wait for PgBouncer's PAUSE (transactions in flight finish first). */
export const RESTART_PAUSE_TIMEOUT_MS = 5_000;
/** How long a restarted replica may take to stream again. */
const STREAMING_TIMEOUT_MS = 60_000;

/**
 * The restart phase of configure-cluster, after every member's configuration is written and
 * reloaded: the hosts with settings waiting for a restart (collected this run, or left pending by an
 * earlier one) restart one at a time, in an order the replicas accept (restart-order.ts), each
 * restarted replica streaming again before the next host, the primary behind a bounded PgBouncer
 * PAUSE so clients wait instead of failing. With --check it says which hosts would restart and why.
 * Nothing pending: no round trip.
 */
export async function restartPending(run: Run, cc: ClusterContext): Promise<void> {
  const primary = cc.plan.primary.host;
  const members = [primary, ...cc.plan.replicas.map((r) => r.member.host)];
  const noted = pendingRestarts(cc);
  const candidates = members.filter((h) => noted.has(h) || (cc.facts.get(h)?.pendingRestart.length ?? 0) > 0);
  if (!candidates.length) return;

  const states = (await Promise.all(members.map((h) => readState(run, cc, h)))).filter((s): s is HostRestartState => s !== undefined);
  const decision = decideRestarts(primary, states);
  if (!decision.order.length) return;
  if (decision.problems.length) {
    for (const item of decision.order) {
      run.emit({
        type: 'step',
        host: item.host,
        step: 'restart',
        status: 'failed',
        check: run.options.check,
        message: `not restarted (${describeChanges(item.changes)}): ${decision.problems.join('; ')}`,
      });
    }
    return;
  }
  if (run.options.check) {
    for (const item of decision.order) run.message(`would restart ${item.host}: ${describeChanges(item.changes)} (${decision.reason})`);
  }

  const replicas = states.map((s) => s.host).filter((h) => isReplica(cc, h));
  for (const [i, item] of decision.order.entries()) {
    let outcome = await run.onHosts([item.host], (ctx) => runSteps(ctx, [restartStep(run, cc, item, decision)]).then(() => {}));
    if (outcome.succeeded.length && item.role === 'primary' && !run.options.check) {
      // A replica checks its settings against the primary's as last replayed (pg_control): before the
      // next restart, every replica streams again and has replayed the restarted primary's new values.
      const [[lsn] = []] = await psql(await run.context(item.host), cc.spec.port, 'select pg_current_wal_lsn()');
      const caughtUp = await run.onHosts(replicas, (ctx) => runSteps(ctx, [caughtUpStep(cc, lsn!)]).then(() => {}));
      if (caughtUp.failed.length || caughtUp.unreachable.length) outcome = caughtUp;
    }
    if (!outcome.failed.length && !outcome.unreachable.length) continue;
    const left = decision.order.slice(i + 1).map((o) => o.host);
    if (left.length)
      run.message(
        `cluster ${cc.spec.name}: restarts stopped at ${[...outcome.failed, ...outcome.unreachable].join(', ')}; ${left.join(', ')} keep their pending restart (run configure-cluster again once fixed)`,
      );
    return;
  }
}

/** A host's ORDERED_SETTINGS as they run, and its pending changes (the files' values against what runs). */
async function readState(run: Run, cc: ClusterContext, host: string): Promise<HostRestartState | undefined> {
  let rows: string[][];
  try {
    rows = await query(
      await run.context(host),
      cc.spec.port,
      `select s.name, s.setting, current_setting(s.name), s.pending_restart::text,
  coalesce((select f.setting from pg_file_settings f where lower(f.name) = lower(s.name) order by f.seqno desc limit 1), s.boot_val)
from pg_settings s where s.pending_restart or s.name in (${ORDERED_SETTINGS.map(lit).join(', ')});`,
    );
  } catch {
    return undefined; // not running: it starts with its new files anyway
  }
  const current: Record<string, number> = {};
  const changes: SettingChange[] = [];
  for (const [name, setting, shown, pending, next] of rows) {
    if ((ORDERED_SETTINGS as readonly string[]).includes(name!)) current[name!] = Number(setting);
    if (pending === 'true') changes.push({ name: name!, from: shown!, to: next! });
  }
  // In check mode nothing was written: the config step predicted what the new files would change.
  for (const c of pendingRestarts(cc).get(host)?.predicted ?? []) if (!changes.some((x) => x.name === c.name)) changes.push(c);
  return { host, current, changes };
}

export function restartStep(run: Run, cc: ClusterContext, item: RestartDecision['order'][number], decision: RestartDecision): Step {
  const names = item.changes.map((c) => c.name).join(', ');
  const restartAction = call(`restart PostgreSQL fast for ${names}; if it does not come back, put the previous files back and start it`, async (ctx) => {
    ctx.message(`restarting PostgreSQL: ${names} need a restart`);
    const s = serviceOf(cc, ctx.host);
    try {
      await restartPostgres(ctx, s);
    } catch (err) {
      // Never leave a host down over a setting: back to the files it ran with, and up again.
      if (!(await restorePreviousConfig(ctx, true))) throw err;
      await serviceAction(ctx, s, 'start').catch(() => {});
      throw new Error(`${(err as Error).message}\nthe previous configuration files were put back and PostgreSQL started again with them`);
    }
  });
  const summary = `${describeChanges(item.changes)} (${decision.reason})`;
  if (item.role !== 'primary') {
    return step('restart', async () => change(summary, [restartAction, call('wait until it streams again', (ctx) => waitForStreaming(cc, ctx))]));
  }
  const hosts = cc.spec.members.filter((m) => m.vars.pg_pgbouncer && m.vars.pg_state !== 'absent').map((m) => m.host);
  return step('restart', async () =>
    change(summary, [
      // A checkpoint now keeps the shutdown checkpoint, inside the pause, short.
      sqlAction(cc.spec.port, 'CHECKPOINT;'),
      call(`pause PgBouncer on ${hosts.join(', ') || 'no host'} (at most ${RESTART_PAUSE_TIMEOUT_MS} ms), restart, resume`, async (ctx) => {
        const t0 = Date.now();
        const paused = await withBouncersPaused(run, cc.spec, { timeoutMs: RESTART_PAUSE_TIMEOUT_MS, password: cc.creds.admin, hosts }, async (p) => {
          await restartAction.fn(ctx);
          return p;
        });
        if (paused.hosts.length)
          ctx.message(`clients of PgBouncer on ${paused.hosts.join(', ')} waited ${Date.now() - t0} ms (PAUSE ${paused.pauseMs} ms, restart, RESUME)`);
      }),
    ]),
  );
}

/**
 * A fast restart. pg_ctlcluster sleeps in half seconds while it waits (2.3 s for a restart on the lab,
 * pg_ctl alone 0.2 s) and the primary restarts while clients wait: where systemd does not own the
 * service, pg_ctl does what pg_ctlcluster would (same data directory, config file, log file, own session).
 */
async function restartPostgres(ctx: HostContext, s: PgService): Promise<void> {
  if (s.systemd) return serviceAction(ctx, s, 'restart');
  const pgCtl = `/usr/lib/postgresql/${s.version}/bin/pg_ctl`;
  const log = `/var/log/postgresql/postgresql-${s.version}-${s.cluster}.log`;
  const options = `-c config_file=${confDir(s.version, s.cluster)}/postgresql.conf`;
  const result = await ctx.run(sh`setsid -w ${pgCtl} restart -m fast -w -s -D ${dataDir(s.version, s.cluster)} -l ${log} -o ${options}`, {
    user: 'postgres',
    allowFailure: true,
  });
  if (result.code !== 0) {
    const tail = (await ctx.run(pgLogTail(s), { allowFailure: true })).stdout;
    throw new Error(`restart of PostgreSQL ${s.version}/${s.cluster} failed: ${result.stderr.trim()}\n${tail}`);
  }
}

function caughtUpStep(cc: ClusterContext, lsn: string): Step {
  return step('replication', async () =>
    change(`streaming again, replayed the restarted primary's ${lsn}`, [
      call(`wait (at most ${STREAMING_TIMEOUT_MS / 1000} s) until it streams and has replayed ${lsn}`, (ctx) => waitForStreaming(cc, ctx, lsn)),
    ]),
  );
}

/**
 * Waits until the replica streams from its primary (and has replayed `lsn`, when given); fails at once
 * when its recovery is paused (a setting lower than the primary's), with the end of its log.
 */
async function waitForStreaming(cc: ClusterContext, ctx: HostContext, lsn?: string): Promise<void> {
  const paused = cc.version >= 14 ? 'pg_get_wal_replay_pause_state()' : `case when pg_is_wal_replay_paused() then 'paused' else 'not paused' end`;
  const replayed = lsn ? `coalesce(pg_last_wal_replay_lsn() >= ${lit(lsn)}::pg_lsn, false)` : 'true';
  // A standby whose primary went away retries only every wal_retrieve_retry_interval (5 s), while
  // synchronous commits wait; a reload wakes its startup process to reconnect now (nothing else changes).
  const nudge = (on: boolean) =>
    on ? `, (select pg_reload_conf() from pg_stat_wal_receiver right join (select 1) one on true where status is distinct from 'streaming')` : '';
  const deadline = Date.now() + STREAMING_TIMEOUT_MS;
  let last = 'not answering';
  let nudged = 0;
  for (;;) {
    const wake = lsn !== undefined && Date.now() - nudged > 500;
    if (wake) nudged = Date.now();
    const rows = await psql(
      ctx,
      cc.spec.port,
      `select coalesce((select status from pg_stat_wal_receiver), 'no wal receiver'), ${paused}, ${replayed}${nudge(wake)}`,
    ).catch((err: Error) => [[err.message.split('\n').pop() ?? '', '', '']]);
    const [status, pause, done] = rows[0] ?? [];
    if (pause && pause !== 'not paused') {
      const log = (await ctx.run(pgLogTail(serviceOf(cc, ctx.host)), { allowFailure: true })).stdout;
      throw new Error(`recovery is ${pause} on ${ctx.host} (a setting lower than on the primary?)\n${log}`);
    }
    if (status === 'streaming' && done === 't') return;
    last = status === 'streaming' ? `streaming, not yet replayed ${lsn}` : (status ?? last);
    if (Date.now() > deadline) throw new Error(`${ctx.host} does not stream from its primary after ${STREAMING_TIMEOUT_MS / 1000} s (${last})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
