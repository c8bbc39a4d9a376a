import { z } from 'zod';
import type { ClusterBackups } from '../src/backup/list-render.js';
import { UserError } from '../src/errors.js';
import { task } from '../src/engine/task.js';

export default task({
  name: 'backup-list',
  help: 'Show every backup per cluster, the span a restore can reach and WAL archive health',
  description: `For each cluster with pg_backup: every backup in its repository (type, start, duration, size,
copied, size in the repository, WAL range), oldest first; the earliest point a restore can reach (the
oldest backup's end) and the latest (the last WAL segment the primary archived); and the archive's health
from pg_stat_archiver on the primary (last archived segment and its age, failures). Asks the repository
host (pgbackrest info) and the members at the same time. Exits 1 when a backup is overdue against its
schedule, none exists, or archiving fails; 4 when the repository host is unreachable. --json gives the same data.`,
  args: z.object({
    cluster: z.string().optional().describe('only this cluster (a pg_cluster value)'),
  }),
  async run(run, args) {
    const [{ backupHealth }, { clusterBackups, renderBackupList }, { readArchiver, readStanza }, { clustersOf }] = await Promise.all([
      import('../src/backup/health.js'),
      import('../src/backup/list-render.js'),
      import('../src/backup/read.js'),
      import('../src/cluster/vars.js'),
    ]);
    const specs = clustersOf(await run.inventory(), args.cluster).filter((s) => s.backup);
    if (!specs.length)
      throw new UserError(args.cluster ? `cluster ${args.cluster} has no pg_backup: it has no backups to list` : 'no cluster of the inventory has pg_backup');
    const now = new Date();
    const clusters: ClusterBackups[] = await Promise.all(
      specs.map(async (spec) => {
        const [read, primary] = await Promise.all([readStanza(run, spec), readArchiver(run, spec)]);
        const health = backupHealth(spec.name, spec.backup!, read.stanza, read.error, primary.archiver, now);
        if (primary.error) health.problems.push(`archive state: ${primary.error}`);
        return clusterBackups(spec.name, spec.backup!.repo_host, read.stanza, health);
      }),
    );
    run.emit({ type: 'result', task: 'backup-list', data: clusters, text: renderBackupList(clusters, !run.options.json && run.options.color === true) });
    for (const c of clusters) if (c.health.verdict !== 'OK') run.flag(`cluster ${c.cluster}: backup ${c.health.verdict.toLowerCase()}`);
  },
});
