import { z } from 'zod';
import { task } from '../src/engine/task.js';

export default task({
  name: 'configure-cluster',
  help: 'Install, configure and converge every PostgreSQL cluster of the inventory',
  // A no-op run shows a line per cluster and the recap; -v shows every ok step.
  display: 'changes',
  description: `Reads every member's state first, plans from it (the existing primary stays primary; with no primary
left the most advanced replica is promoted; a new cluster is bootstrapped on the pg_primary host), then
installs PostgreSQL, writes its configuration, builds missing replicas with pg_basebackup, sets the
synchronous replicas, deactivates pg_state: absent members and registers the service name. Refuses,
changing nothing, when a member is unreachable or two primaries exist. Running it again changes nothing.
--limit picks the clusters of the matching hosts; a cluster is always converged as a whole, and the run
says which hosts outside the limit it takes too.`,
  args: z.object({
    cluster: z.string().optional().describe('only this cluster (a pg_cluster value)'),
  }),
  async run(run, args) {
    // Loaded when the task runs: --list, --help and the other tasks do not pay for the roles.
    const [{ configureCluster }, { withClusterLock }, { clustersOf }, { forEachCluster }, { limitToClusters }, { clusterFactsRead }] = await Promise.all([
      import('../roles/cluster.js'),
      import('../src/cluster/lock.js'),
      import('../src/cluster/vars.js'),
      import('../src/cluster/fleet.js'),
      import('../src/cluster/limit-scope.js'),
      import('../src/cluster/gather.js'),
    ]);
    const inventory = await run.inventory();
    // --limit keeps the clusters of the hosts it names, whole, and says which hosts it added.
    const specs = await limitToClusters(run, clustersOf(inventory, args.cluster));
    // Clusters at once, hosts bounded by --forks; one refused or failed does not stop the others.
    // Each member's first facts come back with its lock, in the same round trip.
    await forEachCluster(run, specs, async (spec) => {
      await withClusterLock(run, spec, 'configure-cluster', () => configureCluster(run, spec), { thenRead: await clusterFactsRead(run, spec) });
    });
  },
});
