import { lsnValue } from '../facts/postgres.js';

/**
 * Timelines and whether a replica can follow a primary: the decision PostgreSQL's startup process
 * makes when it looks for a newer timeline, made ahead of time so pgtasks can say it (info-list) or
 * act on it (rewind or re-clone instead of leaving a replica that will never stream).
 *
 * A timeline history file (`pg_wal/0000000T.history`, on the primary of timeline T) has one line per
 * ancestor timeline: `parentTLI<TAB>switchLSN<TAB>reason`, meaning "timeline parentTLI ended at
 * switchLSN, where the next timeline of this lineage began". Timeline 1 has no history file.
 */

export interface HistoryEntry {
  /** The ancestor timeline this line is about. */
  tli: number;
  /** Where that timeline ended in this lineage (as PostgreSQL prints it, e.g. 0/3000158). */
  switchLsn: string;
  reason: string;
}

/** Where a node is: the timeline of its WAL and its position on it (on a replica: max(received, replayed)). */
export interface WalPosition {
  tli: number;
  lsn: string;
}

export type FollowVerdict = { ok: true } | { ok: false; reason: string };

const LSN = /^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/;

/** An LSN as a number; throws on anything that is not one (a verdict must never rest on a bad read). */
function lsnOf(text: string): bigint {
  if (!LSN.test(text)) throw new Error(`not an LSN: ${JSON.stringify(text)}`);
  return lsnValue(text);
}

/**
 * Parses a timeline history file the way PostgreSQL reads it (readTimeLineHistory): blank lines and
 * `#` comments are skipped, timelines must increase. Throws on anything else, naming the line.
 */
export function parseHistory(text: string): HistoryEntry[] {
  const entries: HistoryEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '').trimStart();
    if (line === '' || line.startsWith('#')) return;
    const [tliText, switchText, ...reason] = line.split('\t');
    const tli = Number(tliText);
    if (!/^\d+$/.test(tliText ?? '') || !Number.isSafeInteger(tli) || tli < 1 || !switchText || !LSN.test(switchText.trim())) {
      throw new Error(`timeline history line ${i + 1}: expected "TLI<TAB>X/Y<TAB>reason", got ${JSON.stringify(raw)}`);
    }
    const prev = entries[entries.length - 1];
    if (prev && tli <= prev.tli) throw new Error(`timeline history line ${i + 1}: timeline ${tli} does not follow ${prev.tli}`);
    entries.push({ tli, switchLsn: switchText.trim().toUpperCase(), reason: reason.join('\t').trim() });
  });
  return entries;
}

/** Where timeline `tli` ends in the lineage `history` describes; undefined when it is not an ancestor. */
export function switchPoint(history: HistoryEntry[], tli: number): string | undefined {
  return history.find((e) => e.tli === tli)?.switchLsn;
}

/** The history file's name for timeline `tli` (upper-case hex, as PostgreSQL names it). */
export function historyFileName(tli: number): string {
  return `${tli.toString(16).toUpperCase().padStart(8, '0')}.history`;
}

/**
 * Whether a replica at `replica` can follow (stream from) a primary on timeline `primary.tli`:
 * - the same timeline: iff the replica is not past the primary's current LSN (when given);
 * - a later timeline T: iff the replica's timeline t is in T's history and the replica's position
 *   is at or before the point where T's lineage left t (PostgreSQL refuses otherwise: "new timeline
 *   T forked off current database system timeline t before current recovery point");
 * - an earlier timeline: never (the replica has WAL the primary never had).
 * A replica that cannot follow needs pg_rewind (pgtasks rejoin) or a fresh clone (rejoin --full).
 */
export function followVerdict(replica: WalPosition, primary: { tli: number; history: HistoryEntry[] | string; lsn?: string }): FollowVerdict {
  const { tli: t, lsn: at } = replica;
  const position = lsnOf(at);
  const T = primary.tli;
  if (t > T) return { ok: false, reason: `it is on timeline ${t}, later than the primary's timeline ${T}` };
  if (t === T) {
    if (primary.lsn !== undefined && position > lsnOf(primary.lsn)) {
      return { ok: false, reason: `it is at ${at} on timeline ${t}, ahead of the primary (at ${primary.lsn})` };
    }
    return { ok: true };
  }
  const history = typeof primary.history === 'string' ? parseHistory(primary.history) : primary.history;
  const fork = switchPoint(history, t);
  if (fork === undefined) return { ok: false, reason: `timeline ${t} is not in the history of the primary's timeline ${T}` };
  if (position > lsnOf(fork)) {
    return { ok: false, reason: `the primary's timeline ${T} forked off timeline ${t} at ${fork}, before this replica's position ${at}` };
  }
  return { ok: true };
}
