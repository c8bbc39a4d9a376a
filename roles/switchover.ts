import { clusterCredentials, ADMIN_USER } from '../src/cluster/credentials.js';
import { gatherCluster } from '../src/cluster/gather.js';
import { currentPrimary, PRIMARY_ACTIVITY_SQL, switchoverProblems, type PrimaryActivity } from '../src/cluster/switchover-checks.js';
import type { ClusterSpec, Member } from '../src/cluster/vars.js';
import type { Status } from '../src/engine/events.js';
import type { Run } from '../src/engine/run.js';
import { dataDir, type PgNodeFacts } from '../src/facts/postgres.js';
import { pgSession, withTimeout, type PgSession } from '../src/steps/pg-client.js';
import { lit, pgServiceCommand, psql, type PgService } from '../src/steps/postgres.js';
import type { HostContext } from '../src/engine/host-context.js';
import { configureCluster } from './cluster.js';
import { PGBOUNCER_INI, pgbouncerFiles } from './pgbouncer.js';

export interface SwitchoverOptions {
  target: string;
  maxLagBytes: number;
  maxTxAgeSeconds: number;
  force: boolean;
  pauseTimeoutMs: number;
  catchupTimeoutMs: number;
}

interface Bouncer {
  host: string;
  session: PgSession;
}

/** Runs `fn` with Ctrl-C held off: the switchover finishes (or rolls back) and clients are resumed first. */
async function shielded<T>(run: Run, fn: () => Promise<T>): Promise<T> {
  const onSignal = () => run.message('interrupt received: finishing the switchover safely, clients will be resumed');
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await fn();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * migrate-to-master: moves the primary role to `target` with clients of PgBouncer seeing no error.
 * Prechecks first (nothing changes if one fails); then PgBouncers PAUSE, the old primary stops
 * cleanly and is marked a standby, the target replays up to its shutdown checkpoint and is promoted,
 * PgBouncers are repointed and RESUMEd (always, on every path). configure-cluster then converges the
 * rest: old primary as a replica of the target, other replicas repointed, slots, sync, service name.
 */
export async function switchover(run: Run, spec: ClusterSpec, opts: SwitchoverOptions): Promise<void> {
  const timings: Record<string, number> = {};
  const t0 = Date.now();
  const gathered = await gatherCluster(run, spec);
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
  const service = (host: string): PgService => ({ version, cluster: spec.name, systemd: gathered.systemd.get(host) ?? false });
  const bouncerHosts = spec.members.filter((m) => m.vars.pg_pgbouncer).map((m) => m.host);
  run.message(`plan: pause PgBouncer on ${bouncerHosts.join(', ') || 'no host'}; stop ${primary.host}; promote ${target.host} once it has replayed ${primary.host}'s shutdown checkpoint; repoint PgBouncer; resume; then ${primary.host} follows ${target.host}`);
  if (run.options.check) return;
  timings.prechecks = Date.now() - t0;

  const creds = await clusterCredentials(spec.credentialsDir, spec.name, false);
  const step = (host: string, name: string, status: Status, message: string) => run.emit({ type: 'step', host, step: `switchover: ${name}`, status, message, check: false });
  const primaryCtx = await run.context(primary.host);
  const targetCtx = await run.context(target.host);
  const admin = { user: ADMIN_USER, password: creds.admin };
  const targetSession = await pgSession(targetCtx, { ...admin, port: spec.port, database: 'postgres' });
  const bouncers: Bouncer[] = await Promise.all(
    bouncerHosts.map(async (host) => ({
      host,
      session: await pgSession(await run.context(host), { ...admin, port: spec.members.find((m) => m.host === host)!.vars.pg_pgbouncer_port, database: 'pgbouncer' }),
    })),
  );
  // A checkpoint now makes the shutdown checkpoint, inside the pause, short.
  let t = Date.now();
  await psql(primaryCtx, spec.port, 'CHECKPOINT;');
  timings.checkpoint = Date.now() - t;

  let promoted = false;
  await shielded(run, async () => {
    const pausedAt = Date.now();
    try {
      await withTimeout(Promise.all(bouncers.map((b) => b.session.query('PAUSE'))), opts.pauseTimeoutMs, 'PAUSE of every PgBouncer (clients with long transactions?)');
      timings.pause = Date.now() - pausedAt;
      bouncers.forEach((b) => step(b.host, 'pause', 'changed', 'PgBouncer paused: queries wait'));

      t = Date.now();
      const finalLsn = await stopAsStandby(primaryCtx, service(primary.host), primary);
      timings.stop = Date.now() - t;
      step(primary.host, 'stop', 'changed', `stopped cleanly at ${finalLsn}, marked standby`);

      t = Date.now();
      try {
        await waitForReplay(targetSession, finalLsn, opts.catchupTimeoutMs);
        timings.catchup = Date.now() - t;
        t = Date.now();
        await targetSession.query('select pg_promote(true, 60)');
        promoted = true;
        timings.promote = Date.now() - t;
        step(target.host, 'promote', 'changed', `replayed ${finalLsn}, promoted`);
      } catch (err) {
        const inRecovery = await targetSession.query<{ r: boolean }>('select pg_is_in_recovery() as r').catch(() => [{ r: true }]);
        if (!inRecovery[0]!.r) promoted = true;
        else {
          await restartAsPrimary(primaryCtx, service(primary.host));
          step(primary.host, 'rollback', 'changed', `${target.host} was not promoted (${(err as Error).message}); ${primary.host} is primary again`);
          throw err;
        }
      }

      t = Date.now();
      await Promise.all(
        bouncers.map(async (b) => {
          const ini = pgbouncerFiles(spec, b.host, target.address, []).find((f) => f.path === PGBOUNCER_INI)!;
          await (await run.context(b.host)).put(ini.path, ini.content, { owner: ini.owner, group: ini.group, mode: ini.mode });
          await b.session.query('RELOAD');
          await b.session.query('RECONNECT');
        }),
      );
      timings.repoint = Date.now() - t;
    } finally {
      await Promise.all(bouncers.map((b) => b.session.query('RESUME').catch((err: Error) => run.message(`[${b.host}] RESUME failed: ${err.message}`))));
      timings.clientsPaused = Date.now() - pausedAt;
      bouncers.forEach((b) => step(b.host, 'resume', 'changed', `PgBouncer resumed${promoted ? ` on ${target.host}` : ''}`));
      await Promise.all([targetSession.close(), ...bouncers.map((b) => b.session.close())]);
    }
  }).catch((err: Error) => {
    run.refuse(`migrate-to-master ${target.host}: ${err.message}`);
  });
  if (!promoted) return;

  t = Date.now();
  await configureCluster(run, spec);
  timings.converge = Date.now() - t;
  timings.total = Date.now() - t0;
  const text = `switchover ${primary.host} -> ${target.host}: clients paused ${timings.clientsPaused} ms (pause ${timings.pause} ms, stop ${timings.stop} ms, catch-up ${timings.catchup} ms, promote ${timings.promote} ms, repoint ${timings.repoint} ms); converge ${timings.converge} ms; total ${timings.total} ms`;
  run.emit({ type: 'result', task: 'migrate-to-master', data: { from: primary.host, to: target.host, timings }, text });
}

/** Clean (fast) stop, then standby.signal, so it can never come back as a second primary; returns the shutdown checkpoint LSN. */
async function stopAsStandby(ctx: HostContext, s: PgService, primary: Member): Promise<string> {
  const dir = dataDir(s.version, s.cluster);
  const { stdout } = await ctx.run(`set -e
${pgServiceCommand(s, 'stop', 'fast')}
install -o postgres -g postgres -m 0600 /dev/null ${dir}/standby.signal
/usr/lib/postgresql/${s.version}/bin/pg_controldata ${dir} | sed -n -e 's/^Database cluster state: *//p' -e 's/^Latest checkpoint location: *//p'`);
  const [state, lsn] = stdout.trim().split('\n');
  if (state !== 'shut down' || !lsn) throw new Error(`${primary.host} did not shut down cleanly (${state})`);
  return lsn;
}

async function restartAsPrimary(ctx: HostContext, s: PgService): Promise<void> {
  await ctx.run(`rm -f ${dataDir(s.version, s.cluster)}/standby.signal && ${pgServiceCommand(s, 'start')}`);
}

async function waitForReplay(session: PgSession, lsn: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [row] = await session.query<{ ok: boolean }>(`select pg_last_wal_replay_lsn() >= ${lit(lsn)}::pg_lsn as ok`);
    if (row?.ok) return;
    if (Date.now() > deadline) throw new Error(`the target did not replay up to ${lsn} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

