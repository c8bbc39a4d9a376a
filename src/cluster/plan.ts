import type { PgNodeFacts } from '../facts/postgres.js';
import { lsnValue } from '../facts/postgres.js';
import { followVerdict } from './timeline.js';
import { slotName, type ClusterSpec, type Member } from './vars.js';

export interface MemberFacts {
  member: Member;
  facts?: PgNodeFacts;
  /** Why the host could not be read (unreachable, facts failed). */
  unreachable?: string;
}

export type PrimaryAction = 'keep' | 'bootstrap' | 'promote';

export interface ClusterPlan {
  cluster: string;
  primary: Member;
  primaryAction: PrimaryAction;
  /**
   * Present members other than the primary, inventory order; clone = build with pg_basebackup;
   * diverged = its WAL went past where the primary's timeline forked: it can never stream again
   * until rewound (pgtasks rejoin), and configure-cluster says so instead of guessing.
   */
  replicas: { member: Member; action: 'keep' | 'clone' | 'diverged'; reason?: string }[];
  deactivate: Member[];
  /** application_names the primary may wait for (every replica, inventory order); pg_sync_replicas of them at a time. */
  syncCandidates: string[];
  notes: string[];
}

/** A plan that must not run: nothing has been touched when this is thrown. */
export class PlanRefused extends Error {
  constructor(cluster: string, reason: string) {
    super(`cluster ${cluster}: ${reason}; nothing was changed`);
    this.name = 'PlanRefused';
  }
}

const advance = (f: PgNodeFacts) => [BigInt(f.timeline ?? 0), lsnValue(f.lsn)] as const;

/**
 * Decides who is primary and what each member needs, from the hosts' facts alone; the inventory only
 * says who belongs. Refuses whenever acting could lose data or create a second primary.
 */
export function planCluster(spec: ClusterSpec, members: MemberFacts[]): ClusterPlan {
  const refuse = (reason: string) => new PlanRefused(spec.name, reason);
  const lost = members.filter((m) => !m.facts);
  if (lost.length) throw refuse(`${lost.map((m) => `${m.member.host} is unreachable (${m.unreachable ?? 'no facts'})`).join('; ')}`);
  const nodes = members as Required<MemberFacts>[];
  const unknown = nodes.filter((m) => m.facts.state === 'UNKNOWN');
  if (unknown.length) throw refuse(unknown.map((m) => `${m.member.host}: ${m.facts.detail ?? 'state unknown'}`).join('; '));

  const primaries = nodes.filter((m) => m.facts.state === 'PRIMARY');
  const withData = nodes.filter((m) => m.facts.systemIdentifier);
  const ids = new Set(withData.map((m) => m.facts.systemIdentifier));
  if (ids.size > 1) {
    // The data most members share defines the cluster; on a tie nobody can say which is foreign.
    const votes = new Map<string, number>();
    for (const m of withData) votes.set(m.facts.systemIdentifier!, (votes.get(m.facts.systemIdentifier!) ?? 0) + 1);
    const ranked = [...votes].sort((a, b) => b[1] - a[1]);
    const own = ranked[0]![1] > ranked[1]![1] ? ranked[0]![0] : undefined;
    const foreign = own ? withData.filter((m) => m.facts.systemIdentifier !== own) : [];
    throw refuse(
      foreign.length
        ? `${foreign.map((m) => `${m.member.host} holds another cluster's data (system identifier ${m.facts.systemIdentifier}, not ${own})`).join('; ')}: check the inventory; move that data directory aside yourself if it is not needed`
        : `members hold different clusters' data (system identifiers ${withData.map((m) => `${m.member.host}=${m.facts.systemIdentifier}`).join(', ')})`,
    );
  }

  if (primaries.length > 1) {
    throw refuse(
      `split brain: ${primaries.map((m) => `${m.member.host}${m.facts.running ? ' (running)' : ' (stopped)'}`).join(' and ')} are all primaries; rejoin all but one with 'pgtasks rejoin'`,
    );
  }

  const present = nodes.filter((m) => m.member.vars.pg_state === 'present');
  const absent = nodes.filter((m) => m.member.vars.pg_state === 'absent');
  const notes: string[] = [];
  let primary: Required<MemberFacts> | undefined;
  let primaryAction: PrimaryAction;

  if (primaries.length === 1) {
    primary = primaries[0]!;
    primaryAction = 'keep';
    if (primary.member.vars.pg_state === 'absent') {
      throw refuse(`${primary.member.host} is the primary and has pg_state: absent; move the primary away first (pgtasks migrate-to-master)`);
    }
    const hinted = present.find((m) => m.member.vars.pg_primary);
    if (hinted && hinted !== primary)
      notes.push(
        `pg_primary names ${hinted.member.host}, but ${primary.member.host} is the primary; pg_primary only picks the first primary of a new cluster (use migrate-to-master to move it)`,
      );
  } else {
    const replicas = present.filter((m) => m.facts.state === 'REPLICA');
    if (replicas.length) {
      // No primary left: the most advanced replica takes over, so no committed (synchronously replicated) row is lost.
      primary = [...replicas].sort((a, b) => {
        const [ta, la] = advance(a.facts);
        const [tb, lb] = advance(b.facts);
        // Equal WAL: a running replica can be promoted at once (a stopped one is likely the old
        // primary, stopped by a switchover that died before its promotion); then inventory order.
        return ta !== tb ? (tb > ta ? 1 : -1) : lb !== la ? (lb > la ? 1 : -1) : Number(b.facts.running) - Number(a.facts.running);
      })[0]!;
      primaryAction = 'promote';
      notes.push(`no primary found: promoting ${primary.member.host}, the most advanced replica (timeline ${primary.facts.timeline}, ${primary.facts.lsn})`);
    } else {
      if (present.length === 0) throw refuse('no member has pg_state: present');
      primary = present.find((m) => m.member.vars.pg_primary) ?? present[0]!;
      primaryAction = 'bootstrap';
    }
  }

  const replicas: ClusterPlan['replicas'] = [];
  for (const m of present) {
    if (m === primary) continue;
    if (m.facts.state === 'REPLICA') {
      const [tli] = advance(m.facts);
      const [ptli] = advance(primary.facts);
      // A replica holding WAL of a LATER timeline saw a promotion the primary never had: the primary is the stale one.
      if (primaryAction === 'keep' && tli > ptli) {
        throw refuse(
          `${m.member.host} holds WAL of timeline ${tli}, later than primary ${primary.member.host} (timeline ${ptli}): a promotion happened elsewhere; find out which holds the acknowledged writes before going on`,
        );
      }
      const why = primaryAction === 'keep' ? cannotFollow(m.facts, primary.facts, primary.member.address) : undefined;
      replicas.push(why ? { member: m.member, action: 'diverged', reason: why } : { member: m.member, action: 'keep' });
    } else {
      replicas.push({ member: m.member, action: 'clone' });
    }
  }
  const deactivate = absent.filter((m) => m.facts.state === 'REPLICA').map((m) => m.member);

  const wanted = spec.syncReplicas;
  if (wanted > replicas.length) notes.push(`pg_sync_replicas is ${wanted} but there are only ${replicas.length} replicas`);
  // Every replica is a candidate (FIRST n over all of them, inventory order): losing one sync replica
  // while another streams must not block writes.
  const syncCandidates = wanted > 0 ? replicas.map((r) => slotName(r.member.host)) : [];

  return { cluster: spec.name, primary: primary.member, primaryAction, replicas, deactivate, syncCandidates, notes };
}

/**
 * Why a replica cannot follow the running primary, or undefined when it can (or it cannot be told).
 * A replica streaming from the primary follows by definition: comparing LSNs read a few
 * milliseconds apart under load would only invent a replica "ahead" of its primary. The same holds
 * for one streaming on the primary's timeline through another member.
 */
export function cannotFollow(replica: PgNodeFacts, primary: PgNodeFacts, primaryAddress: string): string | undefined {
  if (replica.walReceiverStatus === 'streaming' && replica.upstream === primaryAddress) return undefined;
  // Streaming on the primary's timeline from another member (a switchover's cascade): it receives
  // what the primary wrote, so "ahead" could only be two reads a moment apart.
  if (replica.walReceiverStatus === 'streaming' && replica.timeline === primary.timeline) return undefined;
  if (!replica.timeline || !replica.lsn || !primary.timeline) return undefined;
  if (replica.timeline < primary.timeline && primary.history === undefined) return undefined;
  const verdict = followVerdict(
    { tli: replica.timeline, lsn: replica.lsn },
    { tli: primary.timeline, history: primary.history ?? '', lsn: primary.running ? primary.lsn : undefined },
  );
  return verdict.ok ? undefined : verdict.reason;
}
