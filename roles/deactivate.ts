import type { ClusterContext } from '../src/cluster/cluster-context.js';
import { change, ok, step, type Step } from '../src/engine/step.js';
import { confDir, dataDir } from '../src/facts/postgres.js';
import { isRunning, serviceAction, serviceOf } from './service.js';

/**
 * pg_state: absent. Stops the node, keeps it from starting again, and moves its data directory
 * aside (renamed with a timestamp, never deleted): a deactivated node's data is always recoverable.
 */
export function deactivateRole(cc: ClusterContext, host: string): Step[] {
  const s = serviceOf(cc, host);
  const dir = dataDir(cc.version, cc.spec.name);
  const conf = confDir(cc.version, cc.spec.name);
  return [
    step('deactivate', async (ctx) => {
      const { stdout } = await ctx.run(`[ -n "$(ls -A ${dir} 2>/dev/null)" ] && echo data || echo none`);
      if (stdout.trim() === 'none') return ok('already deactivated');
      const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
      return change(`stop, disable, move ${dir} to ${dir}.deactivated-${stamp}`, async () => {
        if (await isRunning(ctx, s)) await serviceAction(ctx, s, 'stop', 'fast');
        if (s.systemd) await ctx.run(`systemctl disable postgresql@${cc.version}-${cc.spec.name}`, { allowFailure: true });
        await ctx.run(`set -e
[ -f ${conf}/start.conf ] && echo disabled > ${conf}/start.conf
mv ${dir} ${dir}.deactivated-${stamp}`);
      });
    }),
  ];
}
