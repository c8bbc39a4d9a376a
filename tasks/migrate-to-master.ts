import { z } from 'zod';
import { UserError } from '../src/errors.js';
import { task } from '../src/engine/task.js';

export default task({
  name: 'migrate-to-master',
  help: 'Move the primary role to another host, with PgBouncer clients seeing no errors',
  description: `Checks first, changing nothing if one fails: every member reachable, the target a streaming
replica of the current primary with lag under --max-lag, no transaction older than --max-tx-age.
Then PAUSEs every PgBouncer of the cluster (queries wait, they do not fail), stops the primary cleanly,
promotes the target once it has replayed the primary's shutdown checkpoint, repoints and RESUMEs
PgBouncer (always, also on errors and Ctrl-C), and converges the cluster: the old primary follows
the target, the other replicas are repointed, the service name moves. Prints how long clients waited.`,
  args: z.object({
    target: z.string().describe('the host to become primary'),
    cluster: z.string().optional().describe("the target's cluster (default: its pg_cluster)"),
    maxLag: z.number().positive().default(16).describe('largest replication lag of the target accepted, in MB'),
    maxTxAge: z.number().positive().default(15).describe('oldest transaction on the primary accepted, in seconds'),
    force: z.boolean().default(false).describe('go on despite old transactions (they are cut by the stop)'),
    pauseTimeout: z
      .number()
      .positive()
      .default(5)
      .describe('seconds PAUSE may wait for running transactions before the switchover is called off (clients resumed, nothing changed)'),
  }),
  async run(run, args) {
    const [{ switchover }, { withClusterLock }, { clustersOf, requireClusters }] = await Promise.all([
      import('../roles/switchover.js'),
      import('../src/cluster/lock.js'),
      import('../src/cluster/vars.js'),
    ]);
    const inventory = await run.inventory();
    requireClusters(inventory);
    const host = inventory.hosts.get(args.target);
    if (!host) throw new UserError(`--target ${args.target}: no such host in the inventory`);
    const cluster = args.cluster ?? (host.vars.pg_cluster as string | undefined);
    if (!cluster) throw new UserError(`--target ${args.target}: the host has no pg_cluster`);
    const [spec] = clustersOf(inventory, cluster);
    await withClusterLock(run, spec!, 'migrate-to-master', () =>
      switchover(run, spec!, {
        target: args.target,
        maxLagBytes: args.maxLag * 1024 * 1024,
        maxTxAgeSeconds: args.maxTxAge,
        force: args.force,
        pauseTimeoutMs: args.pauseTimeout * 1000,
        // The target replays the shutdown checkpoint within milliseconds; clients wait while it does.
        catchupTimeoutMs: 10_000,
      }),
    );
  },
});
