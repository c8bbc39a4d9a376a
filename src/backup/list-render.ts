import { humanBytes } from '../status/model.js';
import type { BackupHealth } from './health.js';
import type { BackupSummary, StanzaSummary } from './pgbackrest-info.js';
import { humanDuration } from './schedule.js';

/*
 * backup-list: per cluster, its backups, the span a restore can reach and the archive's health. Pure:
 * the task reads the repository host and the primary, this turns it into JSON and a table.
 */

export interface BackupListEntry {
  label: string;
  type: BackupSummary['type'];
  start: string;
  stop: string;
  durationSeconds: number;
  /** Database size at the backup, and what this backup copied. */
  sizeBytes: number;
  deltaBytes: number;
  /** In the repository (compressed, encrypted): this backup's own files, and the whole set it needs. */
  repoDeltaBytes: number;
  repoSizeBytes: number;
  walStart?: string;
  walStop?: string;
  lsnStart?: string;
  lsnStop?: string;
  prior?: string;
  checksumErrors: boolean;
}

export interface ClusterBackups {
  cluster: string;
  repoHost: string;
  stanza?: { status: string; cipher?: string; systemId?: string; pgVersion?: string; backupRunning: boolean };
  backups: BackupListEntry[];
  /** The earliest point a restore reaches: the oldest backup's end. */
  earliest?: { time: string; lsn?: string; label: string };
  /**
   * The latest: what the primary archived last (its segment and when), else the repository's newest
   * segment. A restore --latest reaches the end of that segment; a time target up to then is covered.
   */
  latest?: { segment: string; archivedAt?: string };
  /** The repository's archive range for the current database. */
  archive?: { min?: string; max?: string };
  health: BackupHealth;
}

export function backupEntries(s: StanzaSummary | undefined): BackupListEntry[] {
  return (s?.backups ?? []).map((b) => ({
    label: b.label,
    type: b.type,
    start: b.start.toISOString(),
    stop: b.stop.toISOString(),
    durationSeconds: (b.stop.getTime() - b.start.getTime()) / 1000,
    sizeBytes: b.sizeBytes,
    deltaBytes: b.deltaBytes,
    repoDeltaBytes: b.repoDeltaBytes,
    repoSizeBytes: b.repoSizeBytes,
    walStart: b.walStart,
    walStop: b.walStop,
    lsnStart: b.lsnStart,
    lsnStop: b.lsnStop,
    prior: b.prior,
    checksumErrors: b.checksumErrors,
  }));
}

export function clusterBackups(cluster: string, repoHost: string, stanza: StanzaSummary | undefined, health: BackupHealth): ClusterBackups {
  const archived = health.archive.lastArchivedWal;
  const segment = archived && /^[0-9A-F]{24}$/.test(archived.slice(0, 24)) ? archived.slice(0, 24) : undefined;
  const archivedAt = health.archive.lastArchivedTime;
  return {
    cluster,
    repoHost,
    stanza: stanza && {
      status: health.repoError ?? (stanza.backups.length ? 'ok' : 'no valid backups'),
      cipher: stanza.cipher,
      systemId: stanza.systemId,
      pgVersion: stanza.pgVersion,
      backupRunning: stanza.backupRunning,
    },
    backups: backupEntries(stanza),
    earliest: stanza?.earliest && { time: stanza.earliest.time.toISOString(), lsn: stanza.earliest.lsn, label: stanza.earliest.label },
    latest:
      segment !== undefined
        ? { segment, archivedAt: archivedAt === undefined ? undefined : new Date(archivedAt).toISOString() }
        : stanza?.archive?.max
          ? { segment: stanza.archive.max }
          : undefined,
    archive: stanza?.archive && { min: stanza.archive.min, max: stanza.archive.max },
    health,
  };
}

const when = (iso: string) => iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');

/** A table per cluster: one row per backup, oldest first, then the restore span, the archive and the problems. */
export function renderBackupList(clusters: ClusterBackups[], color: boolean): string {
  const paint = (code: string, t: string) => (color ? `\x1b[${code}m${t}\x1b[0m` : t);
  const out: string[] = [];
  for (const c of clusters) {
    const v = c.health.verdict;
    const stanza = c.stanza ? ` (stanza ${c.cluster}${c.stanza.cipher && c.stanza.cipher !== 'none' ? `, ${c.stanza.cipher}` : ''})` : '';
    out.push(`CLUSTER ${c.cluster}  repository ${c.repoHost}${stanza}  ${paint(v === 'OK' ? '32' : '31', `BACKUP ${v}`)}`);
    if (c.backups.length) {
      const header = ['LABEL', 'TYPE', 'START', 'DURATION', 'SIZE', 'COPIED', 'IN REPO', 'WAL START', 'WAL STOP'];
      const rows = c.backups.map((b) => [
        b.label + (b.checksumErrors ? ' (checksum errors!)' : ''),
        b.type,
        when(b.start),
        humanDuration(b.durationSeconds * 1000),
        humanBytes(b.sizeBytes),
        humanBytes(b.deltaBytes),
        humanBytes(b.repoDeltaBytes),
        b.walStart ?? '-',
        b.walStop ?? '-',
      ]);
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      const line = (cells: string[]) =>
        cells
          .map((cell, i) => cell.padEnd(widths[i]!))
          .join('  ')
          .trimEnd();
      out.push(line(header), ...rows.map(line));
    } else out.push(c.health.repoError ? `(backups unknown: ${c.health.repoError})` : '(no backup yet)');
    if (c.earliest) {
      const latest = c.latest
        ? `the end of WAL ${c.latest.segment}${c.latest.archivedAt ? ` (archived ${when(c.latest.archivedAt)})` : ''}`
        : 'the end of the newest backup';
      out.push(`restore: from ${when(c.earliest.time)}${c.earliest.lsn ? ` (LSN ${c.earliest.lsn})` : ''} to ${latest}`);
    }
    out.push(`archive: ${c.health.archive.text}${c.archive?.max ? `; repository holds ${c.archive.min ?? '?'} .. ${c.archive.max}` : ''}`);
    for (const p of c.health.problems) out.push(`! ${p}`);
    out.push('');
  }
  return out.join('\n');
}
