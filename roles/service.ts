import { freshFacts, type ClusterContext } from '../src/cluster/cluster-context.js';
import { notePendingRestart } from '../src/cluster/pending-restarts.js';
import { call, handled, type ServiceAction } from '../src/engine/action.js';
import { executeActions } from '../src/engine/execute.js';
import { change, ok, step, type Step } from '../src/engine/step.js';
import type { HostContext } from '../src/engine/host-context.js';
import { reads, type HostView } from '../src/engine/host-view.js';
import { sh } from '../src/connection/shell.js';
import { confDir, dataDir } from '../src/facts/postgres.js';
import { lit, pgLogTail, pgServiceCommand, pgStatusCommand, psql, type PgService } from '../src/steps/postgres.js';
import { configAccepted, ensureConfigAccepted } from './config.js';

export function serviceOf(cc: ClusterContext, host: string): PgService {
  return { version: cc.version, cluster: cc.spec.name, systemd: cc.systemd.get(host) ?? false };
}

export async function isRunning(view: HostView, s: PgService): Promise<boolean> {
  return (await view.read(reads(pgStatusCommand(s)), { allowFailure: true })).code === 0;
}

/**
 * A PostgreSQL service action as data; on failure the error carries the end of PostgreSQL's log,
 * which says why. Where systemd does not own the service, start is pg_ctl itself, bounded (-t 90):
 * pg_ctlcluster's readiness probe loops until three probes in a row agree, which under load on a
 * standby never ended (the lab's intermittent "run that never finishes").
 */
export function pgServiceAction(s: PgService, action: 'start' | 'stop' | 'restart' | 'reload', mode?: 'fast' | 'immediate'): ServiceAction {
  const pgCtl = `/usr/lib/postgresql/${s.version}/bin/pg_ctl`;
  // A reload is pg_ctl's SIGHUP to the postmaster either way: pg_ctlcluster (Perl) only adds its start.
  const direct = (action === 'start' || action === 'reload') && !s.systemd;
  const command = !direct
    ? pgServiceCommand(s, action, mode)
    : action === 'reload'
      ? sh`${pgCtl} reload -s -D ${dataDir(s.version, s.cluster)}`
      : sh`setsid -w ${pgCtl} start -w -t 90 -s -D ${dataDir(s.version, s.cluster)} -l ${`/var/log/postgresql/postgresql-${s.version}-${s.cluster}.log`} -o ${`-c config_file=${confDir(s.version, s.cluster)}/postgresql.conf`}`;
  return { kind: 'service', service: `postgresql@${s.version}-${s.cluster}`, action, command, user: direct ? 'postgres' : undefined, diagnose: pgLogTail(s) };
}

/** Runs a service action now (for procedures such as ordered restarts, outside a step's plan). */
export async function serviceAction(
  ctx: HostContext,
  s: PgService,
  action: 'start' | 'stop' | 'restart' | 'reload',
  mode?: 'fast' | 'immediate',
): Promise<void> {
  await executeActions(ctx, [pgServiceAction(s, action, mode)]);
}

/**
 * Ensures PostgreSQL runs and applies configuration changes with a reload, once PostgreSQL has
 * accepted the files (else they are put back and the host fails). Settings that need a restart
 * (pending_restart) are only collected here: roles/restart.ts restarts the cluster's hosts one at a
 * time, in an order replicas can follow, the primary behind a PgBouncer pause.
 */
export function serviceRole(cc: ClusterContext, host: string): Step[] {
  const s = serviceOf(cc, host);
  return [
    step('service', async (view) => {
      // Running per this run's facts (and untouched since) needs no second look. A start loads the
      // files as they are now: a reload notified before it has nothing left to do.
      if (!freshFacts(cc, host) && !(await isRunning(view, s)))
        return change('start PostgreSQL', [pgServiceAction(s, 'start'), ...(view.notified.has('postgresql-reload') ? [handled('postgresql-reload')] : [])]);
      if (!view.notified.has('postgresql-reload')) return ok('running');
      let loadedBefore = '-infinity';
      return change('reload configuration', [
        call('check that PostgreSQL accepts the files written (put the previous ones back if not)', async (ctx) => {
          if (!configAccepted(ctx)) await ensureConfigAccepted(cc, ctx);
          const [[loaded] = []] = await psql(ctx, cc.spec.port, 'select pg_conf_load_time()', 'postgres', { quiet: true });
          loadedBefore = loaded ?? loadedBefore;
        }),
        pgServiceAction(s, 'reload'),
        handled('postgresql-reload'),
        call('collect the settings that wait for a restart (pending_restart)', async (ctx) => {
          const pending = await pendingAfterReload(ctx, cc.spec.port, loadedBefore);
          if (pending.length) {
            notePendingRestart(cc, host, { names: pending });
            ctx.message(`${pending.join(', ')} need a restart: done below, one host at a time`);
          }
        }),
      ]);
    }),
  ];
}

/** Settings waiting for a restart, read once the postmaster has re-read its files (a reload only signals it). */
async function pendingAfterReload(ctx: HostContext, port: number, loadedBefore: string): Promise<string[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const rows = await psql(
      ctx,
      port,
      `select pg_conf_load_time() > ${lit(loadedBefore)}::timestamptz, coalesce(string_agg(name, ','), '') from pg_settings where pending_restart`,
      'postgres',
      { quiet: true },
    );
    if (rows[0]?.[0] === 't' || Date.now() > deadline) return (rows[0]?.[1] ?? '').split(',').filter(Boolean);
    await new Promise((r) => setTimeout(r, 50));
  }
}
