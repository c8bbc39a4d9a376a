import { lsnValue } from '../facts/postgres.js';
import { formatTargetTime, type RestoreTarget } from './pgbackrest-restore.js';
import { statusMessage, STANZA_STATUS, type BackupSummary, type StanzaSummary } from './pgbackrest-info.js';

/*
 * restore-cluster's target: read from its flags, then checked against what the repository holds before
 * anything changes. Pure.
 */

const LSN = /^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/;

/**
 * A time with its zone, as people and PostgreSQL write it: `2025-06-01 09:12:44+00`, `2025-06-01T09:12:44.123Z`,
 * `2025-06-01 11:12:44.5+02:00`. Without a zone it is refused: the controller's, the repository host's and
 * the database's zones may differ, and a restore an hour off is a silent disaster.
 */
export function parseTargetTime(text: string): Date {
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,6})?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/.exec(text.trim());
  if (!m) throw new Error(`--to ${JSON.stringify(text)}: not a time; write it as 2025-06-01 09:12:44+00 (ISO 8601 with a zone, as PostgreSQL prints now())`);
  const [, y, mo, d, h, mi, s = '0', frac = '', zone] = m;
  if (!zone) throw new Error(`--to ${JSON.stringify(text)}: give the time zone (Z, +00, +02:00): without one the time is ambiguous`);
  let offsetMin = 0;
  if (!/^z$/i.test(zone)) {
    const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone)!;
    offsetMin = (z[1] === '-' ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3] ?? 0));
  }
  const ms = Math.floor(Number(`0${frac || '.0'}`) * 1000);
  const utc = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms) - offsetMin * 60_000;
  const date = new Date(utc);
  // Date.UTC rolls 2025-02-30 over to March: a typo must not silently become another day.
  const check = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)));
  if (check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d) || check.getUTCHours() !== Number(h) || check.getUTCMinutes() !== Number(mi))
    throw new Error(`--to ${JSON.stringify(text)}: no such date or time`);
  return date;
}

/** Exactly one of --to, --lsn, --latest. */
export function targetFromFlags(flags: { to?: string; lsn?: string; latest?: boolean }): RestoreTarget {
  const given = [flags.to !== undefined && '--to', flags.lsn !== undefined && '--lsn', flags.latest === true && '--latest'].filter(Boolean);
  if (given.length !== 1)
    throw new Error(given.length ? `give only one of --to, --lsn, --latest (got ${given.join(', ')})` : 'give a target: --to TIME, --lsn LSN or --latest');
  if (flags.to !== undefined) return { kind: 'time', time: parseTargetTime(flags.to) };
  if (flags.lsn !== undefined) {
    if (!LSN.test(flags.lsn)) throw new Error(`--lsn ${JSON.stringify(flags.lsn)}: not an LSN (such as 0/3000028, as pg_current_wal_lsn() prints it)`);
    return { kind: 'lsn', lsn: flags.lsn.toUpperCase() };
  }
  return { kind: 'latest' };
}

export function describeTarget(t: RestoreTarget): string {
  switch (t.kind) {
    case 'time':
      return `time ${formatTargetTime(t.time)}`;
    case 'lsn':
      return `LSN ${t.lsn}`;
    case 'immediate':
      return 'the end of the oldest usable backup';
    case 'latest':
      return 'the end of the archive (latest)';
  }
}

/**
 * How far the archive surely reaches: a WAL switch forced on the source's primary (at `time`, ending at
 * `lsn`, in `segment`) that the archiver has since reported archived. Any target up to it is covered.
 */
export interface ArchiveEnd {
  time: Date;
  lsn: string;
  segment: string;
}

export type TargetCheck = { ok: true; backup: BackupSummary; note?: string } | { ok: false; refusal: string };

const iso = (d: Date) => d.toISOString().replace(/\.000Z$/, 'Z');

/**
 * Whether the repository can reach the target: a backup that ended at or before it (pgBackRest picks the
 * newest such set; a restore needs the backup's end to be consistent), and archived WAL up to it.
 * `archiveEnd` is undefined when the source's primary could not be asked (the in-place restore of a
 * lost cluster): the upper bound is then PostgreSQL's to find, and a restore that falls short fails.
 */
export function checkTarget(stanza: StanzaSummary, target: RestoreTarget, archiveEnd?: ArchiveEnd): TargetCheck {
  const refuse = (refusal: string): TargetCheck => ({ ok: false, refusal });
  if (stanza.status.code !== STANZA_STATUS.ok) return refuse(`stanza ${stanza.name}: ${statusMessage(stanza)}`);
  // A backup with page checksum errors is complete (pgBackRest restores it); backup-list flags it.
  const usable = stanza.backups;
  if (!usable.length) return refuse(`stanza ${stanza.name} has no backup yet; take one with 'pgtasks backup --cluster ${stanza.name}'`);
  const first = usable[0]!;
  const last = usable[usable.length - 1]!;
  const earliest = `the earliest point it can restore to is ${iso(first.stop)}${first.lsnStop ? ` (LSN ${first.lsnStop})` : ''}, the end of backup ${first.label}`;
  switch (target.kind) {
    case 'latest':
    case 'immediate':
      return { ok: true, backup: last };
    case 'time': {
      if (target.time.getTime() < first.stop.getTime()) return refuse(`${describeTarget(target)} is before the earliest backup: ${earliest}`);
      if (archiveEnd && target.time.getTime() > archiveEnd.time.getTime())
        return refuse(
          `${describeTarget(target)} is after the latest archived WAL (segment ${archiveEnd.segment}, archived after a WAL switch at ${iso(archiveEnd.time)})`,
        );
      const backup = [...usable].reverse().find((b) => b.stop.getTime() <= target.time.getTime())!;
      return { ok: true, backup };
    }
    case 'lsn': {
      const want = lsnValue(target.lsn);
      if (!first.lsnStop) return refuse(`backup ${first.label} records no LSN: restore by --to TIME instead`);
      if (want < lsnValue(first.lsnStop)) return refuse(`${describeTarget(target)} is before the earliest backup: ${earliest}`);
      if (archiveEnd && want > lsnValue(archiveEnd.lsn))
        return refuse(`${describeTarget(target)} is after the latest archived WAL (up to LSN ${archiveEnd.lsn}, segment ${archiveEnd.segment})`);
      const backup = [...usable].reverse().find((b) => b.lsnStop !== undefined && lsnValue(b.lsnStop) <= want)!;
      // pgBackRest 2.45 chooses the set by time only for --type=time; for an LSN it takes the newest set.
      const note =
        backup.label !== last.label
          ? `pgBackRest restores the newest backup (${last.label}) for an LSN target unless told otherwise: passing --set=${backup.label}`
          : undefined;
      return { ok: true, backup, note };
    }
  }
}
