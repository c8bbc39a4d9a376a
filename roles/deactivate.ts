import type { ClusterContext } from '../src/cluster/cluster-context.js';
import { raw, script, sh } from '../src/connection/shell.js';
import { runAction } from '../src/engine/action.js';
import { reads } from '../src/engine/host-view.js';
import { change, ok, step, type Step } from '../src/engine/step.js';
import { confDir, dataDir } from '../src/facts/postgres.js';
import { isRunning, pgServiceAction, serviceOf } from './service.js';

/** Where the PgBouncer pgtasks starts keeps its pid (the Debian default, as in pgbouncer.ts). */
const PGBOUNCER_PIDFILE = '/var/run/postgresql/pgbouncer.pid';

/**
 * pg_state: absent. Stops PgBouncer (a removed member must not route clients any more) and the node,
 * keeps both from starting again, and moves the data directory aside (renamed with a timestamp,
 * never deleted): a deactivated node's data is always recoverable.
 */
export function deactivateRole(cc: ClusterContext, host: string): Step[] {
  const s = serviceOf(cc, host);
  const dir = dataDir(cc.version, cc.spec.name);
  const conf = confDir(cc.version, cc.spec.name);
  return [
    pgbouncerStopStep(s.systemd),
    step('deactivate', async (ctx) => {
      const { stdout } = await ctx.read(reads(sh`[ -n "$(ls -A ${dir} 2>/dev/null)" ] && echo data || echo none`));
      if (stdout.trim() === 'none') return ok('already deactivated');
      const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
      return change(`stop, disable, move ${dir} to ${dir}.deactivated-${stamp}`, [
        ...((await isRunning(ctx, s)) ? [pgServiceAction(s, 'stop', 'fast')] : []),
        ...(s.systemd ? [runAction(sh`systemctl disable ${`postgresql@${cc.version}-${cc.spec.name}`} || true`)] : []),
        runAction(
          script(raw('set -e'), sh`[ -f ${`${conf}/start.conf`} ] && echo disabled > ${`${conf}/start.conf`}`, sh`mv ${dir} ${`${dir}.deactivated-${stamp}`}`),
        ),
      ]);
    }),
  ];
}

/**
 * Stops PgBouncer and keeps it from starting again. Its own step, checked on every run, so a host
 * deactivated before PgBouncer was handled here gets it stopped too.
 */
export function pgbouncerStopStep(systemd: boolean): Step {
  return step('deactivate: pgbouncer', async (ctx) => {
    const running =
      (await ctx.read(reads(raw(`p=$(cat ${PGBOUNCER_PIDFILE} 2>/dev/null) && [ "$(cat /proc/$p/comm 2>/dev/null)" = pgbouncer ]`)), { allowFailure: true }))
        .code === 0;
    const enabled = systemd && (await ctx.read(reads(raw('systemctl is-enabled pgbouncer')), { allowFailure: true })).code === 0;
    if (!running && !enabled) return ok('PgBouncer not running');
    return change(`stop${enabled ? ' and disable' : ''} PgBouncer`, [
      ...(enabled ? [runAction(raw('systemctl disable --now pgbouncer'))] : []),
      // SIGTERM is PgBouncer's immediate shutdown (SIGINT would wait for every client to leave).
      runAction(
        raw(`set -e
if [ -f ${PGBOUNCER_PIDFILE} ] && p=$(cat ${PGBOUNCER_PIDFILE}) && [ "$(cat /proc/$p/comm 2>/dev/null)" = pgbouncer ]; then
  kill -TERM "$p"
  for i in $(seq 50); do kill -0 "$p" 2>/dev/null || exit 0; sleep 0.1; done
  echo "PgBouncer (pid $p) did not stop within 5 s" >&2; exit 1
fi`),
      ),
    ]);
  });
}
