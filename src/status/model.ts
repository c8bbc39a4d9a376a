import { slotName, type Member } from '../cluster/vars.js';
import type { PgNodeFacts } from '../facts/postgres.js';
import type { LiveStatus } from './query.js';

export interface MemberStatus {
  host: string;
  role: 'primary' | 'replica' | '-';
  state: string;
  upstream?: string;
  timeline?: number;
  lsn?: string;
  lagBytes?: number;
  lagSeconds?: number;
  sync?: string;
  version?: string;
  connections?: number;
  maxConnections?: number;
  sizeBytes?: number;
}

export interface ClusterStatus {
  cluster: string;
  members: MemberStatus[];
  summary: { state: 'IN SYNC' | 'DELAY' | 'DEGRADED'; text: string; maxLagBytes: number; maxLagSeconds: number; problems: string[] };
}

export interface MemberObservation {
  member: Member;
  live?: LiveStatus;
  /** File-level state, read when PostgreSQL could not be queried. */
  facts?: PgNodeFacts;
  unreachable?: boolean;
  error?: string;
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

/** Turns what each member answered into rows and one verdict for the cluster. Pure: tested from fixtures. */
export function clusterStatus(cluster: string, observed: MemberObservation[]): ClusterStatus {
  const byAddress = new Map(observed.map((o) => [o.member.address, o.member.host]));
  const primaries = observed.filter((o) => o.live && !o.live.recovery);
  const primary = primaries[0]?.live;
  const problems: string[] = [];
  const members: MemberStatus[] = observed.map((o) => {
    const base = { host: o.member.host };
    if (o.unreachable) {
      problems.push(`${o.member.host} unreachable`);
      return { ...base, role: '-', state: 'unreachable' };
    }
    if (!o.live) {
      const f = o.facts;
      const state = !f ? o.error ?? 'unknown' : f.state === 'EMPTY' ? 'empty' : f.state === 'DEACTIVATED' ? 'deactivated' : f.running ? `running (${o.error ?? 'no answer'})` : 'stopped';
      if (o.member.vars.pg_state === 'present') problems.push(`${o.member.host} ${state}`);
      const role = f?.state === 'PRIMARY' ? 'primary' : f?.state === 'REPLICA' ? 'replica' : '-';
      return { ...base, role, state, timeline: f?.timeline, lsn: f?.lsn };
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
    };
    if (l.recovery) {
      row.upstream = l.upstream ? byAddress.get(l.upstream) ?? l.upstream : undefined;
      const seen = primary?.replicas.find((r) => r.name === slotName(o.member.host));
      row.sync = seen?.sync ?? (l.receiver === 'streaming' ? 'async' : undefined);
      row.lagBytes = seen?.lag_bytes ?? undefined;
      row.lagSeconds = seen?.replay_lag ?? undefined;
      if (l.receiver !== 'streaming' || !seen || seen.state !== 'streaming') problems.push(`${o.member.host} not streaming`);
      if (row.lagBytes === undefined) row.lagSeconds ??= l.replay_delay ?? undefined;
    }
    return row;
  });
  if (primaries.length === 0) problems.push('no primary');
  if (primaries.length > 1) problems.push(`${primaries.length} primaries: ${primaries.map((p) => p.member.host).join(', ')}`);
  const replicas = members.filter((m) => m.role === 'replica');
  const maxLagBytes = Math.max(0, ...replicas.map((r) => Number(r.lagBytes ?? 0)));
  const maxLagSeconds = Math.max(0, ...replicas.map((r) => Number(r.lagSeconds ?? 0)));
  let state: ClusterStatus['summary']['state'];
  let text: string;
  if (problems.length) {
    state = 'DEGRADED';
    text = `DEGRADED: ${problems.join('; ')}`;
  } else if (maxLagBytes <= IN_SYNC_BYTES && maxLagSeconds <= IN_SYNC_SECONDS) {
    state = 'IN SYNC';
    text = 'IN SYNC';
  } else {
    state = 'DELAY';
    text = `DELAY ${humanBytes(maxLagBytes)}, ${maxLagSeconds.toFixed(1)} s`;
  }
  return { cluster, members, summary: { state, text, maxLagBytes, maxLagSeconds, problems } };
}
