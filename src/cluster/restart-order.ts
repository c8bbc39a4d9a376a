/**
 * In which order a cluster's pending restarts may happen. A hot standby refuses to replay (it pauses
 * recovery: "insufficient parameter settings") when one of these settings is lower than on its
 * primary, so raising them goes replicas first and lowering them goes primary first. Pure: decided
 * from each host's current values and pending changes, tested from fixtures.
 */

export const ORDERED_SETTINGS = [
  'max_connections',
  'max_worker_processes',
  'max_wal_senders',
  'max_prepared_transactions',
  'max_locks_per_transaction',
] as const;

export interface SettingChange {
  name: string;
  /** As the server shows it now (current_setting), e.g. 128MB. */
  from: string;
  /** As the file will have it after the restart. */
  to: string;
}

export interface HostRestartState {
  host: string;
  /** Settings waiting for a restart on this host (empty: it needs none). */
  changes: SettingChange[];
  /** The ORDERED_SETTINGS as they run now. */
  current: Partial<Record<string, number>>;
}

export interface RestartDecision {
  /** The hosts to restart, one at a time, in this order. */
  order: { host: string; role: 'primary' | 'replica'; changes: SettingChange[] }[];
  /** Why this order, for the user. */
  reason: string;
  /** Non-empty: restart nothing; these states would stop a replica's recovery. */
  problems: string[];
}

const lower = (name: string) => name.toLowerCase();

/** A setting's value on a host once its pending changes are in effect. */
function finalValue(h: HostRestartState, name: string): number | undefined {
  const change = h.changes.find((c) => lower(c.name) === name);
  const v = change ? Number(change.to) : h.current[name];
  return v === undefined || Number.isNaN(v) ? undefined : v;
}

/** `max_connections 100 -> 200`; a setting put back as it runs still waits for a restart in PostgreSQL's eyes. */
export function describeChanges(changes: SettingChange[]): string {
  const shown = (v: string) => (v === '' ? "''" : v);
  return changes
    .map((c) => (c.from === c.to ? `${c.name} ${shown(c.from)} (restart pending in PostgreSQL)` : `${c.name} ${shown(c.from)} -> ${shown(c.to)}`))
    .join(', ');
}

/**
 * Orders the restarts of one cluster: `hosts` are the primary and its replicas (inventory order),
 * each with its pending changes. One host at a time either way; the order only matters for the
 * ORDERED_SETTINGS.
 */
export function decideRestarts(primary: string, hosts: HostRestartState[]): RestartDecision {
  const p = hosts.find((h) => h.host === primary);
  const replicas = hosts.filter((h) => h.host !== primary);
  const raised: string[] = [];
  const lowered: string[] = [];
  for (const name of ORDERED_SETTINGS) {
    const now = p?.current[name];
    const then = p ? finalValue(p, name) : undefined;
    if (now === undefined || then === undefined || now === then) continue;
    (then > now ? raised : lowered).push(`${name} ${now} -> ${then}`);
  }

  const problems: string[] = [];
  if (raised.length && lowered.length) {
    problems.push(
      `the primary ${primary} would raise ${raised.join(', ')} and lower ${lowered.join(', ')} at once: no restart order keeps its replicas replaying (raising goes replicas first, lowering primary first); change them in two runs`,
    );
  }
  if (p) {
    for (const r of replicas) {
      for (const name of ORDERED_SETTINGS) {
        const mine = finalValue(r, name);
        const theirs = finalValue(p, name);
        if (mine !== undefined && theirs !== undefined && mine < theirs) {
          problems.push(
            `${r.host} would run with ${name} = ${mine}, lower than the primary's ${theirs}: PostgreSQL would pause its recovery; set ${name} at least as high on every replica`,
          );
        }
      }
    }
  }

  const pending = (h: HostRestartState | undefined) => (h && h.changes.length ? [h] : []);
  const asReplica = replicas.filter((r) => r.changes.length).map((r) => ({ host: r.host, role: 'replica' as const, changes: r.changes }));
  const asPrimary = pending(p).map((h) => ({ host: h.host, role: 'primary' as const, changes: h.changes }));
  if (lowered.length && !raised.length) {
    return { order: [...asPrimary, ...asReplica], reason: `primary first: it lowers ${lowered.join(', ')}`, problems };
  }
  return {
    order: [...asReplica, ...asPrimary],
    reason: raised.length ? `replicas first: the primary raises ${raised.join(', ')}` : 'replicas first, the primary last (behind a PgBouncer pause)',
    problems,
  };
}
