import type { MemberFacts } from './plan.js';
import { slotName, type ClusterSpec, type Member } from './vars.js';

export interface PrimaryActivity {
  lsn: string;
  replicas: { name: string; state: string; lag: number | null }[];
  /** Age in seconds of the oldest open transaction of a client, if any. */
  oldestXactSeconds: number | null;
}

export interface SwitchoverLimits {
  maxLagBytes: number;
  maxTxAgeSeconds: number;
  force: boolean;
}

/** The primary's side of the prechecks, in one query. */
export const PRIMARY_ACTIVITY_SQL = `select json_build_object(
  'lsn', pg_current_wal_lsn()::text,
  'replicas', (select coalesce(json_agg(json_build_object('name', application_name, 'state', state,
      'lag', pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn))), '[]'::json) from pg_stat_replication),
  'oldestXactSeconds', (select extract(epoch from max(now() - xact_start)) from pg_stat_activity
      where xact_start is not null and backend_type = 'client backend' and pid <> pg_backend_pid())
)`;

/** The current primary: the one running PRIMARY among the members, if there is exactly one. */
export function currentPrimary(members: MemberFacts[]): Member | undefined {
  const running = members.filter((m) => m.facts?.state === 'PRIMARY' && m.facts.running);
  return running.length === 1 ? running[0]!.member : undefined;
}

/**
 * Why a planned switchover to `target` must not start; empty when it may. Everything is checked
 * before anything changes, and every problem is reported, not just the first.
 */
export function switchoverProblems(
  spec: ClusterSpec,
  target: string,
  members: MemberFacts[],
  activity: PrimaryActivity | undefined,
  limits: SwitchoverLimits,
): string[] {
  const problems: string[] = [];
  if (!spec.members.some((m) => m.host === target))
    return [`${target} is not a member of cluster ${spec.name} (members: ${spec.members.map((m) => m.host).join(', ')})`];
  for (const m of members) if (!m.facts) problems.push(`${m.member.host} is unreachable`);
  const primaries = members.filter((m) => m.facts?.state === 'PRIMARY');
  const primary = currentPrimary(members);
  if (!primary)
    problems.push(
      `no single running primary (${primaries.map((p) => `${p.member.host}${p.facts!.running ? '' : ' stopped'}`).join(', ') || 'none'}); use failover`,
    );
  if (primary?.host === target) problems.push(`${target} is already the primary`);
  const t = members.find((m) => m.member.host === target)?.facts;
  if (t && primary?.host !== target && (t.state !== 'REPLICA' || !t.running))
    problems.push(`${target} is not a running replica (${t.state}${t.running ? '' : ', stopped'})`);
  if (primary && primary.host !== target && activity) {
    const seen = activity.replicas.find((r) => r.name === slotName(target));
    if (!seen || seen.state !== 'streaming') problems.push(`${target} is not streaming from ${primary.host}`);
    else if ((seen.lag ?? Infinity) > limits.maxLagBytes)
      problems.push(`${target} lags ${seen.lag} bytes behind ${primary.host} (--max-lag is ${limits.maxLagBytes} bytes)`);
    if (!limits.force && activity.oldestXactSeconds !== null && activity.oldestXactSeconds > limits.maxTxAgeSeconds) {
      problems.push(
        `a transaction on ${primary.host} has been open ${activity.oldestXactSeconds.toFixed(1)} s (--max-tx-age is ${limits.maxTxAgeSeconds} s; --force to go on)`,
      );
    }
  }
  return problems;
}
