import { z } from 'zod';
import type { ClusterSpec } from '../src/cluster/vars.js';
import type { Run } from '../src/engine/run.js';
import { task } from '../src/engine/task.js';
import { UserError } from '../src/errors.js';

const TYPES = ['full', 'diff', 'incr'] as const;
type BackupType = (typeof TYPES)[number];

/** Up to a day: a large database's full backup is long work. */
const BACKUP_TIMEOUT_MS = 24 * 3600_000;

export interface BackupResult {
  cluster: string;
  label: string;
  type: BackupType;
  /** Where the data files were read: a standby (backup-standby) or the primary. */
  from: 'standby' | 'primary';
  start: string;
  stop: string;
  durationSeconds: number;
  /** The database's size, what this backup copied of it, and what it takes in the repository (compressed, encrypted). */
  sizeBytes: number;
  deltaBytes: number;
  repoDeltaBytes: number;
}

/** Which member is the primary, and whether a replica streams from it (pgBackRest then reads from that standby). */
async function memberRoles(run: Run, spec: ClusterSpec): Promise<{ primary?: string; streaming: string[]; unreachable: string[] }> {
  const [{ presentMembers }, { query }] = await Promise.all([import('../roles/backup.js'), import('../src/steps/postgres.js')]);
  const roles = new Map<string, { recovery: boolean; streaming: boolean }>();
  const outcome = await run.onHosts(
    presentMembers(spec).map((m) => m.host),
    async (ctx) => {
      const [[recovery, receiver] = []] = await query(
        ctx.view,
        spec.port,
        `select pg_is_in_recovery()::text, coalesce((select status from pg_stat_wal_receiver), '')`,
      ).catch(() => [] as string[][]);
      if (recovery !== undefined) roles.set(ctx.host, { recovery: recovery === 'true', streaming: receiver === 'streaming' });
    },
  );
  const hosts = [...roles];
  return {
    primary: hosts.find(([, r]) => !r.recovery)?.[0],
    streaming: hosts.filter(([, r]) => r.recovery && r.streaming).map(([h]) => h),
    unreachable: [...outcome.unreachable, ...outcome.failed],
  };
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

async function backupCluster(run: Run, spec: ClusterSpec, type: BackupType): Promise<BackupResult | undefined> {
  const [{ backupCommand, PGBACKREST_USER, readStanza }, { STANZA_STATUS, statusMessage }, { runAction }, { change, runSteps, step }] = await Promise.all([
    import('../roles/backup.js'),
    import('../src/backup/pgbackrest-info.js'),
    import('../src/engine/action.js'),
    import('../src/engine/step.js'),
  ]);
  const repo = spec.backup!.repo_host;
  // Before anything: the repository host, the stanza, the primary. A refusal here has changed nothing.
  try {
    await run.context(repo);
  } catch (err) {
    run.refuse(`cluster ${spec.name}: the backup repository host ${repo} is unreachable (${(err as Error).message}); no backup was taken`);
    return undefined;
  }
  const ctx = await run.context(repo);
  const stanza = await readStanza(ctx.view, spec.name).catch((err: Error) => err);
  if (stanza instanceof Error || !stanza || stanza.status.code === STANZA_STATUS.missingStanzaPath || stanza.status.code === STANZA_STATUS.other) {
    const why = stanza instanceof Error ? stanza.message : stanza ? statusMessage(stanza) : 'no such stanza';
    run.refuse(`cluster ${spec.name}: the repository on ${repo} is not ready (${why}); run pgtasks configure-cluster first; no backup was taken`);
    return undefined;
  }
  const roles = await memberRoles(run, spec);
  if (!roles.primary) {
    run.refuse(
      `cluster ${spec.name}: no running primary found${roles.unreachable.length ? ` (${roles.unreachable.join(', ')} could not be asked)` : ''}; no backup was taken`,
    );
    return undefined;
  }
  const standby = roles.streaming.length > 0;
  const from = standby ? `a standby (${roles.streaming.join(', ')} stream${roles.streaming.length === 1 ? 's' : ''})` : `the primary ${roles.primary}`;
  const before = new Set(stanza.backups.map((b) => b.label));
  await runSteps(ctx, [
    step(`backup ${spec.name}`, async () =>
      change(`${type} backup of ${spec.name} from ${from}`, [
        runAction(backupCommand(spec.name, type, standby, true), { user: PGBACKREST_USER, timeoutMs: BACKUP_TIMEOUT_MS, progress: 'pgbackrest' }),
      ]),
    ),
  ]);
  if (run.options.check) return undefined;
  const after = await readStanza(ctx.view, spec.name);
  const made = after?.backups.filter((b) => !before.has(b.label)).pop();
  if (!made) throw new Error(`cluster ${spec.name}: pgbackrest backup ended but info shows no new backup`);
  return {
    cluster: spec.name,
    label: made.label,
    type: made.type,
    from: standby ? 'standby' : 'primary',
    start: made.start.toISOString(),
    stop: made.stop.toISOString(),
    durationSeconds: Math.round((made.stop.getTime() - made.start.getTime()) / 1000),
    sizeBytes: made.sizeBytes,
    deltaBytes: made.deltaBytes,
    repoDeltaBytes: made.repoDeltaBytes,
  };
}

export default task({
  name: 'backup',
  help: 'Take a pgBackRest backup now, from a streaming replica when there is one',
  description: `For every cluster with pg_backup (or --cluster C): a backup into its stanza on the repository
host, run there as postgres. When a replica streams, its data files are read from it (pgBackRest's
backup-standby: the primary only gives pg_control, the WAL switch and the stop point), else from the
primary. Checks first, changing nothing if one fails: the repository host reachable, the stanza there,
a running primary. Prints the type (incr and diff become full when there is no full backup yet),
size, size in the repository and duration.`,
  args: z.object({
    cluster: z.string().optional().describe('only this cluster (a pg_cluster value)'),
    type: z.enum(TYPES).default('incr').describe('full, diff (changes since the last full) or incr (since the last backup)'),
  }),
  async run(run, args) {
    const { clustersOf } = await import('../src/cluster/vars.js');
    const all = clustersOf(await run.inventory(), args.cluster);
    const specs = all.filter((s) => s.backup);
    if (!specs.length)
      throw new UserError(
        args.cluster ? `--cluster ${args.cluster}: the cluster has no pg_backup` : `no cluster has pg_backup (clusters: ${all.map((s) => s.name).join(', ')})`,
      );
    const results: BackupResult[] = [];
    for (const spec of specs) {
      const r = await backupCluster(run, spec, args.type);
      if (r) results.push(r);
    }
    if (!results.length) return;
    const text = results
      .map(
        (r) =>
          `backup ${r.cluster}: ${r.type} ${r.label} from the ${r.from}, ${r.durationSeconds} s, database ${mb(r.sizeBytes)}, copied ${mb(r.deltaBytes)}, ${mb(r.repoDeltaBytes)} in the repository`,
      )
      .join('\n');
    run.emit({ type: 'result', task: 'backup', data: results, text });
  },
});
