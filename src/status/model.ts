import type { BackupHealth } from '../backup/health.js';
import { followVerdict } from '../cluster/timeline.js';
import { slotName, type Member } from '../cluster/vars.js';
import type { BouncerFacts } from '../facts/pgbouncer.js';
import { lsnValue } from '../facts/postgres.js';
import type { StoppedNodeFacts } from './node-fact.js';
import type { LiveStatus } from './query.js';
import { syncVerdict } from './sync-names.js';

export interface MemberStatus {
  host: string;
  /** The address peers and pg_hba use (ansible_host, else the name). */
  address: string;
  role: 'primary' | 'replica' | '-';
  state: string;
  upstream?: string;
  timeline?: number;
  lsn?: string;
  /** Bytes of WAL the primary has and this replica has not replayed; never negative. */
  lagBytes?: number;
  lagSeconds?: number;
  sync?: string;
  version?: string;
  connections?: number;
  maxConnections?: number;
  sizeBytes?: number;
  replayPaused?: boolean;
  /** Settings changed in the files that apply only after a restart. */
  pendingRestart?: string[];
  /** Why this replica can never stream from the primary (it holds WAL the primary's timeline does not). */
  cannotFollow?: string;
  /** PgBouncer on this host: what it does now (not what its file says). */
  pgbouncer?: { state: 'running' | 'paused' | 'down' | 'error'; routesTo?: string; error?: string };
}

export type Verdict = 'IN SYNC' | 'DELAY' | 'DEGRADED' | 'WRITES BLOCKED' | 'SWITCHOVER';

export interface ClusterStatus {
  cluster: string;
  members: MemberStatus[];
  /** With pg_backup: the newest backup's age against the schedule and WAL archiving (src/backup/health.ts). */
  backup?: BackupHealth;
  summary: {
    state: Verdict;
    text: string;
    maxLagBytes: number;
    maxLagSeconds: number;
    /** Short, for the verdict line. */
    problems: string[];
    /** What to do about them, one line each, with the command to run. */
    advice: string[];
    writesBlocked: boolean;
    switchover: boolean;
  };
}

export interface MemberObservation {
  member: Member;
  live?: LiveStatus;
  /** File-level state, read when PostgreSQL could not be queried. */
  facts?: StoppedNodeFacts;
  unreachable?: boolean;
  error?: string;
  /** PgBouncer's running state: undefined when not asked, null when nothing listens. */
  bouncer?: BouncerFacts | null;
  bouncerError?: string;
}

/** Below these a replica counts as caught up: WAL keeps flowing on a busy primary. */
export const IN_SYNC_BYTES = 16 * 1024;
export const IN_SYNC_SECONDS = 1;

export function humanBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

const nonNegative = (n: number | null | undefined) => (n === null || n === undefined || Number.isNaN(Number(n)) ? undefined : Math.max(0, Number(n)));

/** Turns what each member answered into rows and one verdict for the cluster. Pure: tested from fixtures. */
export function clusterStatus(cluster: string, observed: MemberObservation[]): ClusterStatus {
  const byAddress = new Map(observed.map((o) => [o.member.address, o.member.host]));
  const nameOf = (address: string) => byAddress.get(address) ?? address;
  const primaries = observed.filter((o) => o.live && !o.live.recovery);
  // With two primaries no one is "the" primary: lag and verdicts against either would be guesses.
  const primaryObs = primaries.length === 1 ? primaries[0] : undefined;
  const primary = primaryObs?.live;
  const problems: string[] = [];
  const advice: string[] = [];

  const members: MemberStatus[] = observed.map((o) => {
    const base = { host: o.member.host, address: o.member.address };
    const pgbouncer = bouncerStatus(o, primaryObs?.member, nameOf, problems, advice);
    if (o.unreachable) {
      problems.push(`${o.member.host} unreachable`);
      return { ...base, role: '-', state: 'unreachable' };
    }
    if (!o.live) {
      const f = o.facts;
      const state = !f
        ? (o.error ?? 'unknown')
        : f.state === 'EMPTY'
          ? 'empty'
          : f.state === 'DEACTIVATED'
            ? 'deactivated'
            : f.running
              ? `running (${o.error ?? 'no answer'})`
              : 'stopped';
      if (o.member.vars.pg_state === 'present') problems.push(`${o.member.host} ${state}`);
      const role = f?.state === 'PRIMARY' ? 'primary' : f?.state === 'REPLICA' ? 'replica' : '-';
      return { ...base, role, state, timeline: f?.timeline, lsn: f?.lsn, pgbouncer };
    }
    const l = o.live;
    const row: MemberStatus = {
      ...base,
      role: l.recovery ? 'replica' : 'primary',
      state: 'running',
      timeline: l.timeline ?? undefined,
      lsn: l.lsn ?? undefined,
      version: l.version.split(' ')[0],
      connections: l.connections,
      maxConnections: l.max_connections,
      sizeBytes: Number(l.size),
      pendingRestart: l.pending_restart?.length ? l.pending_restart : undefined,
      pgbouncer,
    };
    if (l.recovery) replicaStatus(o, row, primaryObs, nameOf, problems, advice);
    if (row.pendingRestart)
      advice.push(`${o.member.host}: restart pending for ${row.pendingRestart.join(', ')}: the new value applies only after PostgreSQL restarts`);
    const flags = [row.cannotFollow && 'cannot follow', row.replayPaused && 'replay paused', row.pendingRestart && 'restart pending'].filter(Boolean);
    if (flags.length) row.state = flags.join(', ');
    return row;
  });

  let writesBlocked = false;
  if (primaryObs && primary) {
    const v = syncVerdict(
      primary.sync_names ?? '',
      primary.replicas.filter((r) => r.state === 'streaming').map((r) => r.name),
    );
    if (v.blocked) {
      writesBlocked = true;
      const hostOf = (name: string) => observed.find((o) => slotName(o.member.host) === name.toLowerCase())?.member.host ?? name;
      const names = v.sync!.names.map(hostOf);
      problems.unshift(`writes blocked: ${v.streaming} of ${v.needed} synchronous standby(s) streaming`);
      advice.push(
        `writes blocked: every commit on ${primaryObs.member.host} waits for ${v.needed} of ${names.join(', ')} (synchronous_standby_names = '${primary.sync_names}') and ${v.streaming} stream(s): ` +
          `bring one back (pgtasks configure-cluster starts a stopped member), or lower pg_sync_replicas and run pgtasks configure-cluster`,
      );
    }
  }

  const switchover = switchoverSigns(observed, primaries.length === 0);
  if (switchover) {
    problems.unshift(`switchover or failover in progress or unfinished (${switchover})`);
    advice.push(
      `a switchover or failover is in progress or did not finish (${switchover}): if this lasts more than a few seconds, finish it with pgtasks configure-cluster`,
    );
  } else if (primaries.length === 0) {
    problems.push('no primary');
    const stopped = observed.find((o) => o.facts?.state === 'PRIMARY' && !o.facts.running);
    advice.push(
      stopped
        ? `no primary running: ${stopped.member.host} is the primary and is stopped; pgtasks configure-cluster starts it (if ${stopped.member.host} is lost: pgtasks failover)`
        : 'no primary: pgtasks failover promotes the most advanced replica',
    );
  }
  if (primaries.length > 1) problems.push(`${primaries.length} primaries: ${primaries.map((p) => p.member.host).join(', ')}`);

  const replicas = members.filter((m) => m.role === 'replica');
  const maxLagBytes = Math.max(0, ...replicas.map((r) => Number(r.lagBytes ?? 0)));
  const maxLagSeconds = Math.max(0, ...replicas.map((r) => Number(r.lagSeconds ?? 0)));
  let state: Verdict;
  let text: string;
  if (switchover || writesBlocked || problems.length) {
    state = switchover ? 'SWITCHOVER' : writesBlocked ? 'WRITES BLOCKED' : 'DEGRADED';
    // The verdict already says it: "WRITES BLOCKED: 0 of 1 ...", not "WRITES BLOCKED: writes blocked: ...".
    text = `${state}: ${problems.map((p, i) => (i === 0 && state === 'WRITES BLOCKED' ? p.replace(/^writes blocked: /, '') : p)).join('; ')}`;
  } else if (maxLagBytes <= IN_SYNC_BYTES && maxLagSeconds <= IN_SYNC_SECONDS) {
    state = 'IN SYNC';
    text = 'IN SYNC';
  } else {
    state = 'DELAY';
    text = `DELAY ${humanBytes(maxLagBytes)}, ${maxLagSeconds.toFixed(1)} s`;
  }
  return { cluster, members, summary: { state, text, maxLagBytes, maxLagSeconds, problems, advice, writesBlocked, switchover: !!switchover } };
}

/** A replica's upstream, sync state, lag, paused replay and whether it can follow the primary at all. */
function replicaStatus(
  o: MemberObservation,
  row: MemberStatus,
  primaryObs: MemberObservation | undefined,
  nameOf: (a: string) => string,
  problems: string[],
  advice: string[],
): void {
  const l = o.live!;
  const host = o.member.host;
  const primary = primaryObs?.live;
  row.upstream = l.upstream ? nameOf(l.upstream) : undefined;
  const seen = primary?.replicas.find((r) => r.name === slotName(host));
  row.sync = seen?.sync ?? (l.receiver === 'streaming' ? 'async' : undefined);
  row.replayPaused = l.replay_paused || undefined;
  // Not streaming: will it ever? Its WAL (timeline, position) against the primary's timeline history.
  if (primary && l.receiver !== 'streaming' && l.timeline && primary.timeline && l.lsn && (primary.timeline === l.timeline || primary.history)) {
    const position = lsnValue(l.received_lsn ?? undefined) > lsnValue(l.lsn) ? l.received_lsn! : l.lsn;
    try {
      const v = followVerdict({ tli: l.timeline, lsn: position }, { tli: primary.timeline, history: primary.history ?? '', lsn: primary.lsn ?? undefined });
      if (!v.ok) row.cannotFollow = v.reason;
    } catch {
      /* an unreadable history is no verdict: the row just says "not streaming" */
    }
  }
  if (row.cannotFollow) {
    const p = primaryObs!.member.host;
    problems.push(`${host} cannot follow ${p}`);
    advice.push(`${host} cannot follow ${p}: ${row.cannotFollow}; run: pgtasks rejoin --host ${host} (pg_rewind; --full re-clones it)`);
    return;
  }
  if (primary?.lsn && l.lsn) row.lagBytes = Math.max(0, Number(lsnValue(primary.lsn) - lsnValue(l.lsn)));
  else row.lagBytes = nonNegative(seen?.lag_bytes);
  row.lagSeconds = seen ? nonNegative(seen.replay_lag) : nonNegative(l.replay_delay);
  if (l.receiver !== 'streaming' || !seen || seen.state !== 'streaming') problems.push(`${host} not streaming`);
  if (row.replayPaused) {
    problems.push(`${host} replay paused`);
    advice.push(
      `${host}: WAL replay is paused: resume it with "select pg_wal_replay_resume()" on ${host} (if its log says a setting is lower than on the primary, run pgtasks configure-cluster instead)`,
    );
  }
}

/** PgBouncer's row part, and its problems: down or misrouted on a member, still running on a removed one. */
function bouncerStatus(
  o: MemberObservation,
  primary: Member | undefined,
  nameOf: (a: string) => string,
  problems: string[],
  advice: string[],
): MemberStatus['pgbouncer'] {
  const host = o.member.host;
  const present = o.member.vars.pg_state === 'present';
  if (o.bouncerError) {
    problems.push(`PgBouncer on ${host} does not answer`);
    return { state: 'error', error: o.bouncerError };
  }
  if (o.bouncer === undefined) return undefined;
  if (o.bouncer === null) {
    if (present && o.member.vars.pg_pgbouncer && o.live) {
      problems.push(`PgBouncer on ${host} not running`);
      advice.push(`PgBouncer on ${host} is not running: pgtasks configure-cluster starts it`);
    }
    return { state: 'down' };
  }
  const routesTo = o.bouncer.host ? nameOf(o.bouncer.host) : undefined;
  if (!present) {
    problems.push(`PgBouncer still runs on removed ${host}`);
    advice.push(`${host} has pg_state: absent but its PgBouncer still routes clients: pgtasks configure-cluster stops it`);
  } else if (primary && o.bouncer.host && o.bouncer.host !== primary.address && !o.bouncer.paused) {
    problems.push(`PgBouncer on ${host} routes to ${routesTo}, not the primary ${primary.host}`);
    advice.push(`PgBouncer on ${host} sends clients to ${routesTo}, not to the primary ${primary.host}: pgtasks configure-cluster repoints it`);
  }
  return { state: o.bouncer.paused ? 'paused' : 'running', routesTo };
}

/**
 * What a switchover or failover leaves while it runs, or when it died half-way: PgBouncers PAUSEd
 * (clients wait), an old primary stopped cleanly and marked a standby, no primary. Undefined when none.
 */
function switchoverSigns(observed: MemberObservation[], noPrimary: boolean): string | undefined {
  const paused = observed.filter((o) => o.bouncer?.paused).map((o) => o.member.host);
  const asStandby = observed
    .filter((o) => !o.live && o.facts && !o.facts.running && o.facts.state === 'REPLICA' && o.facts.controlState === 'shut down')
    .map((o) => o.member.host);
  if (!paused.length && !asStandby.length) return undefined;
  return [
    ...asStandby.map((h) => `${h} stopped cleanly as a standby`),
    ...(noPrimary ? ['no primary running'] : []),
    ...(paused.length ? [`PgBouncer paused on ${paused.join(', ')}`] : []),
  ].join(', ');
}

/** The primary's pg_stat_archiver as its status query returned it (one running primary), else undefined. */
export function primaryArchiver(observed: MemberObservation[]): LiveStatus['archiver'] {
  const primaries = observed.filter((o) => o.live && !o.live.recovery);
  return primaries.length === 1 ? (primaries[0]!.live!.archiver ?? undefined) : undefined;
}
