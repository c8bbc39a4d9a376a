import { z } from 'zod';

/*
 * `pgbackrest info --output=json` (2.45) read into what backup-list and info-list show: per stanza
 * its backups, the span it can be restored to, the archive's range and pgBackRest's own verdict.
 * Pure; the fixtures in test/fixtures/pgbackrest/ are real output.
 */

const status = z.object({ code: z.number(), message: z.string() });
const dbRef = z.object({ id: z.number(), 'repo-key': z.number() });
const backup = z.object({
  label: z.string(),
  type: z.enum(['full', 'diff', 'incr']),
  timestamp: z.object({ start: z.number(), stop: z.number() }),
  archive: z.object({ start: z.string().nullable(), stop: z.string().nullable() }),
  lsn: z.object({ start: z.string(), stop: z.string() }).optional(),
  info: z.object({ size: z.number(), delta: z.number(), repository: z.object({ size: z.number(), delta: z.number() }) }),
  database: dbRef,
  prior: z.string().nullable(),
  error: z.boolean().optional(),
});
const stanza = z.object({
  name: z.string(),
  status: status.extend({ lock: z.object({ backup: z.object({ held: z.boolean() }) }).optional() }),
  cipher: z.string().optional(),
  db: z.array(z.object({ id: z.number(), 'repo-key': z.number(), 'system-id': z.string(), version: z.string() })),
  archive: z.array(z.object({ id: z.string(), min: z.string().nullable(), max: z.string().nullable(), database: dbRef })),
  backup: z.array(backup),
  repo: z.array(z.object({ key: z.number(), cipher: z.string().optional(), status })).optional(),
});

/** pgBackRest's stanza status codes (info.c): 0 ok ... 99 other (an error, such as access denied). */
export const STANZA_STATUS = { ok: 0, missingStanzaPath: 1, noBackups: 2, missingStanzaData: 3, mixed: 4, pgMismatch: 5, backupMissing: 6, other: 99 } as const;

export interface BackupSummary {
  label: string;
  type: 'full' | 'diff' | 'incr';
  start: Date;
  stop: Date;
  /** The database's size at the backup (info.size) and what this backup copied of it (info.delta). */
  sizeBytes: number;
  deltaBytes: number;
  /** In the repository (compressed, encrypted): the whole set this backup needs, and this backup's own files. */
  repoSizeBytes: number;
  repoDeltaBytes: number;
  /** The WAL the backup needs to be consistent: restoring it needs at least walStart..walStop. */
  walStart?: string;
  walStop?: string;
  lsnStart?: string;
  lsnStop?: string;
  /** The backup it depends on (diff: its full; incr: the previous one). */
  prior?: string;
  /** Page checksum errors were found while copying (the backup is complete, the data is suspect). */
  checksumErrors: boolean;
  /** PostgreSQL version of the database the backup was taken from (a stanza-upgrade adds one). */
  pgVersion?: string;
}

export interface RestorePoint {
  time: Date;
  lsn?: string;
  label: string;
}

export interface StanzaSummary {
  name: string;
  status: { code: number; message: string };
  /** Per repository when they disagree: an access error reads here ("[AccessError] ... access denied"). */
  repoStatus: { key: number; code: number; message: string }[];
  /** A backup or expire holds the stanza's lock. 2.45's JSON has no percentage (the text output has it). */
  backupRunning: boolean;
  cipher?: string;
  /** As a string: system identifiers exceed JavaScript's safe integers. */
  systemId?: string;
  pgVersion?: string;
  backups: BackupSummary[];
  /** The earliest point a restore can reach: the oldest backup's end (it is consistent only from there). */
  earliest?: RestorePoint;
  /** The newest backup's end: with no archived WAL after it, the latest a restore can surely reach. */
  latestBackup?: RestorePoint;
  /** Archived WAL of the current database: a gap inside the range is NOT detected by pgBackRest's info. */
  archive?: { id: string; min?: string; max?: string };
}

/** JSON.parse would round a 64-bit system-id; quote it first (it is only ever compared, never computed with). */
function quoteSystemIds(text: string): string {
  return text.replace(/"system-id"\s*:\s*(\d+)/g, '"system-id":"$1"');
}

/** Parses the whole output (one element per stanza); throws with the first mismatch when it is not info's JSON. */
export function parseInfoJson(text: string): StanzaSummary[] {
  let raw: unknown;
  try {
    raw = JSON.parse(quoteSystemIds(text));
  } catch (err) {
    throw new Error(`pgbackrest info: output is not JSON: ${(err as Error).message}`);
  }
  const parsed = z.array(stanza).safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`pgbackrest info: unexpected output at ${issue.path.join('.') || '(top)'}: ${issue.message}`);
  }
  return parsed.data.map(summarize);
}

const date = (epochSeconds: number) => new Date(epochSeconds * 1000);

function summarize(s: z.output<typeof stanza>): StanzaSummary {
  const current = s.db.reduce<(typeof s.db)[number] | undefined>((a, d) => (a === undefined || d.id > a.id ? d : a), undefined);
  const versionOf = new Map(s.db.map((d) => [d.id, d.version]));
  const backups = s.backup
    .map((b): BackupSummary => ({
      label: b.label,
      type: b.type,
      start: date(b.timestamp.start),
      stop: date(b.timestamp.stop),
      sizeBytes: b.info.size,
      deltaBytes: b.info.delta,
      repoSizeBytes: b.info.repository.size,
      repoDeltaBytes: b.info.repository.delta,
      walStart: b.archive.start ?? undefined,
      walStop: b.archive.stop ?? undefined,
      lsnStart: b.lsn?.start,
      lsnStop: b.lsn?.stop,
      prior: b.prior ?? undefined,
      checksumErrors: b.error === true,
      pgVersion: versionOf.get(b.database.id),
    }))
    .sort((a, b) => a.start.getTime() - b.start.getTime() || a.label.localeCompare(b.label));
  const point = (b: BackupSummary | undefined): RestorePoint | undefined => (b ? { time: b.stop, lsn: b.lsnStop, label: b.label } : undefined);
  const archive = current && s.archive.find((a) => a.database.id === current.id);
  return {
    name: s.name,
    status: { code: s.status.code, message: s.status.message },
    repoStatus: (s.repo ?? []).map((r) => ({ key: r.key, code: r.status.code, message: r.status.message })),
    backupRunning: s.status.lock?.backup.held ?? false,
    cipher: s.cipher,
    systemId: current?.['system-id'],
    pgVersion: current?.version,
    backups,
    earliest: point(backups[0]),
    latestBackup: point(backups[backups.length - 1]),
    archive: archive && { id: archive.id, min: archive.min ?? undefined, max: archive.max ?? undefined },
  };
}

/** The most specific reason a stanza is not usable: a repository's own message (access denied) before the summary ("other"). */
export function statusMessage(s: StanzaSummary): string {
  if (s.status.code === STANZA_STATUS.ok) return s.backupRunning ? 'ok (backup/expire running)' : 'ok';
  const repo = s.repoStatus.find((r) => r.code !== STANZA_STATUS.ok);
  return repo && s.status.code === STANZA_STATUS.other ? repo.message : s.status.message;
}

/** The timeline of a WAL segment name (its first 8 hex digits): a failover shows as a new timeline in archive max. */
export function segmentTimeline(segment: string): number {
  if (!/^[0-9A-F]{24}$/.test(segment)) throw new Error(`not a WAL segment name: ${segment}`);
  return parseInt(segment.slice(0, 8), 16);
}
