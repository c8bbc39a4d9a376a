/**
 * synchronous_standby_names as PostgreSQL reads it (syncrep_gram.y): `FIRST n (a, b)`, `ANY n (a, b)`,
 * the older `n (a, b)` (= FIRST n) and a bare list `a, b` (= FIRST 1). Names may be double-quoted;
 * `*` matches any standby. Empty means no synchronous replication.
 */
export interface SyncNames {
  method: 'first' | 'any';
  num: number;
  names: string[];
}

export function parseSyncNames(value: string): SyncNames | undefined {
  const text = value.trim();
  if (!text) return undefined;
  const m = /^(?:(first|any)\s+)?(\d+)\s*\(([\s\S]*)\)$/i.exec(text);
  if (m) return { method: m[1]?.toLowerCase() === 'any' ? 'any' : 'first', num: Number(m[2]), names: splitNames(m[3]!) };
  return { method: 'first', num: 1, names: splitNames(text) };
}

function splitNames(list: string): string[] {
  const names: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < list.length; i++) {
    const ch = list[i]!;
    if (ch === '"') {
      if (quoted && list[i + 1] === '"') {
        cur += '"';
        i++;
      } else quoted = !quoted;
    } else if (ch === ',' && !quoted) {
      names.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  names.push(cur.trim());
  return names.filter(Boolean);
}

/** Whether a standby's application_name is one of the names (PostgreSQL compares them case-insensitively). */
export function isListed(sync: SyncNames, applicationName: string): boolean {
  return sync.names.some((n) => n === '*' || n.toLowerCase() === applicationName.toLowerCase());
}

/**
 * Commits wait on the primary when fewer listed standbys stream than synchronous_standby_names
 * requires (FIRST n and ANY n alike); `streaming` are the application_names pg_stat_replication
 * shows in state 'streaming'. Returns how many stream, how many are needed, and whether writes block.
 */
export function syncVerdict(value: string, streaming: string[]): { sync?: SyncNames; streaming: number; needed: number; blocked: boolean } {
  const sync = parseSyncNames(value);
  if (!sync) return { streaming: 0, needed: 0, blocked: false };
  const count = streaming.filter((a) => isListed(sync, a)).length;
  return { sync, streaming: count, needed: sync.num, blocked: count < sync.num };
}
