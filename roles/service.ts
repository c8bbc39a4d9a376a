import { freshFacts, type ClusterContext } from '../src/cluster/cluster-context.js';
import { change, ok, step, type Step } from '../src/engine/step.js';
import type { HostContext } from '../src/engine/host-context.js';
import { pgLogTail, pgServiceCommand, pgStatusCommand, psql, type PgService } from '../src/steps/postgres.js';

export function serviceOf(cc: ClusterContext, host: string): PgService {
  return { version: cc.version, cluster: cc.spec.name, systemd: cc.systemd.get(host) ?? false };
}

export async function isRunning(ctx: HostContext, s: PgService): Promise<boolean> {
  return (await ctx.run(pgStatusCommand(s), { allowFailure: true })).code === 0;
}

/** Runs a service action; on failure the error carries the end of PostgreSQL's log, which says why. */
export async function serviceAction(ctx: HostContext, s: PgService, action: 'start' | 'stop' | 'restart' | 'reload', mode?: 'fast' | 'immediate'): Promise<void> {
  const result = await ctx.run(pgServiceCommand(s, action, mode), { allowFailure: true });
  if (result.code !== 0) {
    const log = (await ctx.run(pgLogTail(s), { allowFailure: true })).stdout;
    throw new Error(`${action} of PostgreSQL ${s.version}/${s.cluster} failed: ${result.stderr.trim()}\n${log}`);
  }
}

/**
 * Ensures PostgreSQL runs, applying configuration changes the way PostgreSQL wants them: a reload,
 * then a restart only for the settings pg_settings marks pending_restart.
 */
export function serviceRole(cc: ClusterContext, host: string): Step[] {
  const s = serviceOf(cc, host);
  return [
    step('service', async (ctx) => {
      // Running per this run's facts (and untouched since) needs no second look.
      if (!freshFacts(cc, host) && !(await isRunning(ctx, s))) {
        return change('start PostgreSQL', async () => {
          cc.touched.add(host);
          await serviceAction(ctx, s, 'start');
        });
      }
      if (!ctx.notified.has('postgresql-reload')) return ok('running');
      return change('reload configuration', async () => {
      cc.touched.add(host);
        await serviceAction(ctx, s, 'reload');
        ctx.notified.delete('postgresql-reload');
        const pending = (await psql(ctx, cc.spec.port, 'select name from pg_settings where pending_restart')).map((r) => r[0]);
        if (pending.length) {
          ctx.message(`restarting PostgreSQL: ${pending.join(', ')} need a restart`);
          await serviceAction(ctx, s, 'restart');
        }
      });
    }),
  ];
}
