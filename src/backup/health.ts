import type { BackupSpec } from '../cluster/vars.js';
import { statusMessage, STANZA_STATUS, type BackupSummary, type StanzaSummary } from './pgbackrest-info.js';
import { allowedBackupAge, humanDuration } from './schedule.js';

/*
 * Is this cluster's way back in order? The newest backup against its schedule, and WAL archiving on the
 * primary (pg_stat_archiver). Pure: info-list and backup-list give it what they read.
 */

/** pg_stat_archiver on the primary, with archive_mode; times as PostgreSQL prints them (ISO with offset). */
export interface ArchiverStats {
  archiveMode: string;
  archivedCount: number;
  lastArchivedWal: string | null;
  lastArchivedTime: string | null;
  failedCount: number;
  lastFailedWal: string | null;
  lastFailedTime: string | null;
  /** The primary's clock when it answered: ages are measured on one clock. */
  now: string;
}

/** The SQL that reads it, one JSON object (part of info-list's status query; backup-list's own). */
export const ARCHIVER_JSON_SQL = `(select json_build_object(
    'archiveMode', current_setting('archive_mode'),
    'archivedCount', archived_count, 'lastArchivedWal', last_archived_wal, 'lastArchivedTime', last_archived_time,
    'failedCount', failed_count, 'lastFailedWal', last_failed_wal, 'lastFailedTime', last_failed_time,
    'now', clock_timestamp()) from pg_stat_archiver)`;

export interface ArchiveHealth {
  state: 'ok' | 'failing' | 'off' | 'idle' | 'unknown';
  /** Seconds since the last segment was archived (the primary's clock). */
  lastArchivedAgeSeconds?: number;
  lastArchivedWal?: string;
  lastArchivedTime?: string;
  failedCount: number;
  lastFailure?: { wal: string; time: string; ageSeconds: number };
  text: string;
}

const seconds = (from: string | null, now: string) => (from === null ? undefined : Math.max(0, (Date.parse(now) - Date.parse(from)) / 1000));

/**
 * Failing when the last failure is newer than the last success: PostgreSQL retries the same segment
 * until it goes, so a failure followed by a success is over. (failed_count counts since the statistics
 * were reset: shown, not judged.)
 */
export function archiveHealth(a: ArchiverStats | undefined): ArchiveHealth {
  if (!a) return { state: 'unknown', failedCount: 0, text: 'archive state unknown (no primary answered)' };
  const archivedAge = seconds(a.lastArchivedTime, a.now);
  const failedAge = seconds(a.lastFailedTime, a.now);
  const lastFailure =
    a.lastFailedWal && a.lastFailedTime && failedAge !== undefined ? { wal: a.lastFailedWal, time: a.lastFailedTime, ageSeconds: failedAge } : undefined;
  const base = {
    lastArchivedAgeSeconds: archivedAge,
    lastArchivedWal: a.lastArchivedWal ?? undefined,
    lastArchivedTime: a.lastArchivedTime ?? undefined,
    failedCount: a.failedCount,
    lastFailure,
  };
  if (a.archiveMode === 'off') return { ...base, state: 'off', text: 'WAL archiving is off (archive_mode = off)' };
  const last = a.lastArchivedWal ? `last WAL ${a.lastArchivedWal} archived ${humanDuration((archivedAge ?? 0) * 1000)} ago` : 'no WAL archived yet';
  const failures = a.failedCount ? `, ${a.failedCount} failure${a.failedCount === 1 ? '' : 's'} since stats reset` : '';
  if (lastFailure && (a.lastArchivedTime === null || Date.parse(lastFailure.time) > Date.parse(a.lastArchivedTime)))
    return {
      ...base,
      state: 'failing',
      text: `WAL ARCHIVING FAILS: ${lastFailure.wal} failed ${humanDuration(lastFailure.ageSeconds * 1000)} ago (${a.failedCount} failures); ${last}`,
    };
  if (!a.lastArchivedWal) return { ...base, state: 'idle', text: `${last}${failures}` };
  return { ...base, state: 'ok', text: `${last}${failures}` };
}

export type BackupVerdict = 'OK' | 'OVERDUE' | 'NO BACKUP' | 'ARCHIVE FAILING' | 'UNKNOWN';

export interface BackupHealth {
  cluster: string;
  repoHost: string;
  verdict: BackupVerdict;
  /** The newest backup (any type: each is a starting point for a restore) and its age. */
  last?: { label: string; type: BackupSummary['type']; stop: string; ageSeconds: number };
  /** The schedule's longest gap plus slack; undefined when nothing is scheduled. */
  allowedAgeSeconds?: number;
  archive: ArchiveHealth;
  /** The repository could not be read (unreachable host, access denied, missing stanza). */
  repoError?: string;
  problems: string[];
  /** One line for info-list. */
  text: string;
}

/**
 * The verdict: the repository unreadable is UNKNOWN; archiving failing or off comes first (every minute
 * it lasts is lost from any restore); then no backup, then a newest backup older than the schedule allows.
 */
export function backupHealth(
  cluster: string,
  backup: Pick<BackupSpec, 'repo_host' | 'schedule'>,
  stanza: StanzaSummary | undefined,
  repoError: string | undefined,
  archiver: ArchiverStats | undefined,
  now: Date,
): BackupHealth {
  const archive = archiveHealth(archiver);
  const problems: string[] = [];
  const newest = stanza?.backups[stanza.backups.length - 1];
  const allowed = allowedBackupAge(backup.schedule, now);
  const last = newest && {
    label: newest.label,
    type: newest.type,
    stop: newest.stop.toISOString(),
    ageSeconds: Math.max(0, (now.getTime() - newest.stop.getTime()) / 1000),
  };
  let verdict: BackupVerdict = 'OK';
  const stanzaError =
    repoError ?? (stanza && stanza.status.code !== STANZA_STATUS.ok && stanza.status.code !== STANZA_STATUS.noBackups ? statusMessage(stanza) : undefined);
  if (stanzaError !== undefined || !stanza) {
    verdict = 'UNKNOWN';
    problems.push(`repository ${backup.repo_host}: ${stanzaError ?? 'no answer'}`);
  }
  if (archive.state === 'failing' || archive.state === 'off') {
    if (verdict === 'OK') verdict = 'ARCHIVE FAILING';
    problems.push(
      archive.state === 'off'
        ? `WAL archiving is off: no restore can go past the newest backup; run 'pgtasks configure-cluster' (it turns archive_mode on)`
        : `WAL archiving fails (${archive.lastFailure!.wal}): WAL piles up in pg_wal on the primary until it works again; check that ${backup.repo_host} is reachable, and run 'pgbackrest --stanza=${cluster} check' as postgres on the primary for the reason`,
    );
  }
  if (stanza && !newest && stanzaError === undefined) {
    if (verdict === 'OK') verdict = 'NO BACKUP';
    problems.push(`no backup yet: run 'pgtasks backup --cluster ${cluster}'`);
  } else if (last && allowed !== undefined && last.ageSeconds * 1000 > allowed) {
    if (verdict === 'OK') verdict = 'OVERDUE';
    problems.push(
      `newest backup ${last.label} is ${humanDuration(last.ageSeconds * 1000)} old, more than the schedule allows (${humanDuration(allowed)}): check the cron file on ${backup.repo_host}, or run 'pgtasks backup --cluster ${cluster}'`,
    );
  }
  const lastText = last ? `last ${last.type} ${humanDuration(last.ageSeconds * 1000)} ago` : stanzaError !== undefined ? 'backups unknown' : 'no backup';
  const text = `BACKUP ${verdict}: ${lastText}${allowed !== undefined ? ` (allowed ${humanDuration(allowed)})` : ''}; ${archive.text}${
    stanzaError !== undefined ? `; repository ${backup.repo_host}: ${stanzaError}` : ''
  }`;
  return {
    cluster,
    repoHost: backup.repo_host,
    verdict,
    last,
    allowedAgeSeconds: allowed === undefined ? undefined : allowed / 1000,
    archive,
    repoError: stanzaError,
    problems,
    text,
  };
}
