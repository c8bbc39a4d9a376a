import { restoreArgs } from '../src/backup/pgbackrest-restore.js';
import { STANZA_STATUS, statusMessage } from '../src/backup/pgbackrest-info.js';
import type { ClusterContext } from '../src/cluster/cluster-context.js';
import { longCommandEnv } from '../src/cluster/lock.js';
import { raw, script, sh, type Command } from '../src/connection/shell.js';
import type { HostView } from '../src/engine/host-view.js';
import { readStanza } from './backup.js';

/*
 * pg_replica_source: backup. A new replica's data comes from the backup repository instead of the
 * primary: pgbackrest restore --type=standby into the clone's side directory (cloneStep renames it in
 * as it does a pg_basebackup copy), then the server starts as a standby, replays the archive through
 * restore_command and streams from the primary through its slot (primary_conninfo and
 * primary_slot_name are in postgresql.conf). The primary serves no base backup: for a large database
 * it only streams what was written since the backup.
 */

/** Where a new replica of this member is built from (pg_replica_source; backup only with pg_backup, as the inventory check says). */
export function replicaSource(cc: Pick<ClusterContext, 'spec'>, host: string): 'primary' | 'backup' {
  const m = cc.spec.members.find((x) => x.host === host);
  return m?.vars.pg_replica_source === 'backup' && cc.spec.backup ? 'backup' : 'primary';
}

/**
 * What the member's own pgBackRest sees of its stanza (through the repository host's TLS server):
 * a backup of this major to restore, or why not (then the clone comes from the primary, with a message).
 * In check mode pgBackRest may not be set up yet: the restore is what would be tried.
 */
export async function backupToClone(view: HostView, cc: Pick<ClusterContext, 'spec' | 'version'>): Promise<{ label?: string; why?: string }> {
  let stanza;
  try {
    stanza = await readStanza(view, cc.spec.name);
  } catch (err) {
    return { why: `the repository could not be read from here (${(err as Error).message.split('\n').slice(-1)[0]})` };
  }
  if (!stanza) return view.check ? { label: 'the newest' } : { why: `no stanza ${cc.spec.name} in the repository` };
  if (stanza.status.code !== STANZA_STATUS.ok && stanza.status.code !== STANZA_STATUS.noBackups) return { why: statusMessage(stanza) };
  const usable = stanza.backups.filter((b) => b.pgVersion === undefined || b.pgVersion === String(cc.version));
  if (!usable.length) return { why: `the repository holds no backup of PostgreSQL ${cc.version} yet (pgtasks backup takes one)` };
  return { label: usable.at(-1)!.label };
}

/**
 * pgbackrest restore --type=standby into the side directory, as postgres, under the run's tag (a killed
 * run's lock holder stops it, as it does pg_basebackup). restore_command names the final data directory
 * (archive-get reads pg_control there). A line per file: progress.
 */
export function restoreCloneCommand(cc: Pick<ClusterContext, 'spec' | 'version'>, tmp: string, dir: string): Command {
  const args = restoreArgs({ stanza: cc.spec.name, target: { kind: 'latest' }, restorePath: tmp, finalPath: dir, standby: true });
  return script(
    raw('set -e'),
    longCommandEnv(cc.spec.name),
    sh`pgbackrest --log-level-console=detail ${args}`,
    // Debian keeps the configuration in /etc/postgresql; standby.signal is restore's own (--type=standby).
    sh`rm -f ${['postgresql.conf', 'pg_hba.conf', 'pg_ident.conf', 'postmaster.pid', 'recovery.signal'].map((f) => `${tmp}/${f}`)}`,
    sh`touch ${`${tmp}/standby.signal`}`,
  );
}
