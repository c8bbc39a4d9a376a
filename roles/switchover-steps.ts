import { runAction, type Action } from '../src/engine/action.js';
import { executeActions } from '../src/engine/execute.js';
import type { HostContext } from '../src/engine/host-context.js';
import { dataDir } from '../src/facts/postgres.js';
import { raw, script, sh, type Command } from '../src/connection/shell.js';
import type { PgSession } from '../src/steps/pg-client.js';
import { lit, type PgService } from '../src/steps/postgres.js';
import { pgServiceAction } from './service.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Clean (fast) shutdown of a primary by signal, watched at 10 ms steps (pg_ctl polls at 100 ms,
 * and pg_ctlcluster adds a Perl start-up: both inside the clients' pause), then standby.signal so
 * it can never come back as a second primary. Returns the shutdown checkpoint's LSN.
 */
export function fastStopCommand(version: number, cluster: string): Command {
  return script(
    raw('set -e'),
    sh`D=${dataDir(version, cluster)}`,
    raw(`pid=$(head -1 "$D/postmaster.pid")
[ "$(cat /proc/$pid/comm)" = postgres ] || { echo "postmaster.pid names no running postgres" >&2; exit 1; }
kill -INT "$pid"
n=0; while kill -0 "$pid" 2>/dev/null; do n=$((n+1)); [ $n -gt 6000 ] && { echo "still running after 60 s" >&2; exit 1; }; sleep 0.01; done
install -o postgres -g postgres -m 0600 /dev/null "$D/standby.signal"`),
    sh`${`/usr/lib/postgresql/${version}/bin/pg_controldata`} "$D" | sed -n -e 's/^Database cluster state: *//p' -e 's/^Latest checkpoint location: *//p'`,
  );
}

/** Runs fastStopCommand; returns the shutdown checkpoint's LSN, or throws when the host did not shut down cleanly. */
export async function fastStop(ctx: HostContext, version: number, cluster: string, host: string): Promise<string> {
  // Quiet: the step that runs it has shown the command already (-v).
  const { stdout } = await ctx.run(fastStopCommand(version, cluster), { quiet: true });
  const [state, lsn] = stdout.trim().split('\n');
  if (state !== 'shut down' || !lsn) throw new Error(`${host} did not shut down cleanly (${state})`);
  return lsn;
}

/**
 * The old primary takes writes again (the target could not be promoted): no longer marked standby, and
 * started with the same bounded start as everywhere else (pg_ctl -t 90 where systemd does not own it).
 */
export function restartAsPrimaryActions(s: PgService): Action[] {
  return [runAction(sh`rm -f ${`${dataDir(s.version, s.cluster)}/standby.signal`}`), pgServiceAction(s, 'start')];
}

export async function restartAsPrimary(ctx: HostContext, s: PgService): Promise<void> {
  await executeActions(ctx, restartAsPrimaryActions(s));
}

/** Polls (5 ms) until the standby has replayed `lsn`. */
export async function waitForReplay(session: PgSession, lsn: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [row] = await session.query<{ ok: boolean }>(`select pg_last_wal_replay_lsn() >= ${lit(lsn)}::pg_lsn as ok`);
    if (row?.ok) return;
    if (Date.now() > deadline) throw new Error(`the target did not replay up to ${lsn} within ${timeoutMs} ms`);
    await sleep(5);
  }
}

/**
 * Promotes without pg_promote's own 100 ms polling: asks, then watches at 5 ms steps. A server that
 * is out of recovery already was promoted by an earlier request (a run killed while its promotion
 * was under way, whose facts this run read still in recovery): that is the outcome asked for.
 */
export async function promoteNow(session: PgSession, timeoutMs = 60_000): Promise<void> {
  try {
    await session.query('select pg_promote(false)');
  } catch (err) {
    // The question's own failure (the session gone) says nothing: pg_promote's error is the one to report.
    const [row] = await session.query<{ r: boolean }>('select pg_is_in_recovery() as r').catch(() => Promise.reject(err));
    if (row?.r !== false) throw err;
    return;
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [row] = await session.query<{ r: boolean }>('select pg_is_in_recovery() as r');
    if (row && !row.r) return;
    if (Date.now() > deadline) throw new Error(`promotion did not finish within ${timeoutMs} ms`);
    await sleep(5);
  }
}

/** Waits (bounded) until these application names stream from the session's server; returns those that do not. */
export async function waitForStreaming(session: PgSession, names: string[], timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await session.query<{ n: string }>(`select application_name as n from pg_stat_replication where state = 'streaming'`);
    const missing = names.filter((n) => !rows.some((r) => r.n === n));
    if (!missing.length || Date.now() > deadline) return missing;
    await sleep(50);
  }
}
