import { z } from 'zod';
import { UserError } from '../src/errors.js';
import { task } from '../src/engine/task.js';

export default task({
  name: 'restore-cluster',
  help: 'Point-in-time restore of a cluster from its backups: into another cluster, or in place',
  description: `Restores cluster --cluster C from its pgBackRest repository to a point: --to TIME (with its zone, as
PostgreSQL prints now(): 2025-06-01 09:12:44+00), --lsn LSN, or --latest (the end of the archive).

--into NEW restores into the hosts of cluster NEW of the inventory, leaving C untouched (the way to
recover a dropped table, or to rehearse): NEW's primary is restored from C's stanza (NEW's client
certificate may read it for the time of the restore), promoted at the target, then configure-cluster
builds NEW's replicas, PgBouncer, service name and its own stanza. NEW needs pg_backup on C's repository host.

--in-place --yes is disaster recovery of C itself: the copy is restored beside C's data directory on its
primary (or pg_primary when none is left), then every member is stopped and its data directory renamed
(<dir>.before-restore-<time>, never deleted), the copy renamed in and promoted at the target, and the
replicas rebuilt; the service name follows. If the restore fails, the old data directories are put back.

Refused before anything changes: an unknown cluster, a target before the earliest backup or after the
latest archived WAL (a WAL switch on C's running primary tells where the archive ends), NEW's hosts
holding data, the repository host unreachable.`,
  args: z.object({
    cluster: z.string().describe('the cluster whose backups are restored (a pg_cluster value)'),
    to: z.string().optional().describe('restore to this time, with its zone: 2025-06-01 09:12:44+00'),
    lsn: z.string().optional().describe('restore to this WAL position (0/3000028)'),
    latest: z.boolean().default(false).describe('restore to the end of the archive'),
    into: z.string().optional().describe('the cluster of the inventory restored into (its hosts must be empty)'),
    inPlace: z.boolean().default(false).describe('restore cluster --cluster itself (with --yes)'),
    yes: z.boolean().default(false).describe('confirm an --in-place restore'),
  }),
  async run(run, args) {
    const [{ restoreCluster }, { targetFromFlags }, { withClusterLock }, { clustersOf }] = await Promise.all([
      import('../roles/restore.js'),
      import('../src/backup/restore-target.js'),
      import('../src/cluster/lock.js'),
      import('../src/cluster/vars.js'),
    ]);
    const inventory = await run.inventory();
    let target;
    try {
      target = targetFromFlags(args);
    } catch (err) {
      throw new UserError((err as Error).message);
    }
    if ((args.into === undefined) === !args.inPlace) throw new UserError('give either --into NEW (another cluster of the inventory) or --in-place --yes');
    const [source] = clustersOf(inventory, args.cluster);
    const into = args.into === undefined ? undefined : clustersOf(inventory, args.into)[0];
    const locked = into ?? source!;
    await withClusterLock(run, locked, 'restore-cluster', () => restoreCluster(run, { source: source!, into, target, yes: args.yes }));
  },
});
