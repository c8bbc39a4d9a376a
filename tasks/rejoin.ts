import { z } from 'zod';
import { UserError } from '../src/errors.js';
import { task } from '../src/engine/task.js';

export default task({
  name: 'rejoin',
  help: 'Bring a failed or former primary back as a replica (pg_rewind, or --full re-clone)',
  description: `Stops the host's PostgreSQL if it runs, rewinds it with pg_rewind from the current primary
and starts it as a replica, then converges the cluster. With --full, its data directory is moved aside
(renamed, never deleted) and a fresh pg_basebackup is taken instead. After a pg_rewind that did not
finish (killed or failed) it refuses to rewind again: use --full.`,
  args: z.object({
    host: z.string().describe('the host to bring back'),
    full: z.boolean().default(false).describe('re-clone instead of pg_rewind'),
  }),
  async run(run, args) {
    const [{ rejoin }, { withClusterLock }, { clustersOf, requireClusters }] = await Promise.all([
      import('../roles/rejoin.js'),
      import('../src/cluster/lock.js'),
      import('../src/cluster/vars.js'),
    ]);
    const inventory = await run.inventory();
    requireClusters(inventory);
    const cluster = inventory.hosts.get(args.host)?.vars.pg_cluster as string | undefined;
    if (!cluster) throw new UserError(`--host ${args.host}: no such host with pg_cluster in the inventory`);
    const spec = clustersOf(inventory, cluster)[0]!;
    await withClusterLock(run, spec, 'rejoin', () => rejoin(run, spec, args.host, args.full));
  },
});
