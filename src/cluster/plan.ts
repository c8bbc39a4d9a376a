import type { PgNodeFacts } from '../facts/postgres.js';
import { lsnValue } from '../facts/postgres.js';
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
  /** Present members other than the primary, inventory order; clone = build with pg_basebackup. */
  replicas: { member: Member; action: 'keep' | 'clone' }[];
  deactivate: Member[];
  /** application_names the primary waits for: the first N replicas in inventory order. */
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
  if (primaries.length > 1) {
    throw refuse(`split brain: ${primaries.map((m) => `${m.member.host}${m.facts.running ? ' (running)' : ' (stopped)'}`).join(' and ')} are all primaries; rejoin all but one with 'pgtasks rejoin'`);
  }
  const withData = nodes.filter((m) => m.facts.systemIdentifier);
  const ids = new Set(withData.map((m) => m.facts.systemIdentifier));
  if (ids.size > 1) {
    throw refuse(`members hold different clusters (system identifiers ${withData.map((m) => `${m.member.host}=${m.facts.systemIdentifier}`).join(', ')})`);
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
    if (hinted && hinted !== primary) notes.push(`pg_primary names ${hinted.member.host}, but ${primary.member.host} is the primary; pg_primary only picks the first primary of a new cluster (use migrate-to-master to move it)`);
  } else {
    const replicas = present.filter((m) => m.facts.state === 'REPLICA');
    if (replicas.length) {
      // No primary left: the most advanced replica takes over, so no committed (synchronously replicated) row is lost.
      primary = [...replicas].sort((a, b) => {
        const [ta, la] = advance(a.facts);
        const [tb, lb] = advance(b.facts);
        return ta !== tb ? (tb > ta ? 1 : -1) : lb !== la ? (lb > la ? 1 : -1) : 0;
      })[0]!;
      primaryAction = 'promote';
      notes.push(`no primary found: promoting ${primary.member.host}, the most advanced replica (timeline ${primary.facts.timeline}, ${primary.facts.lsn})`);
    } else {
      if (present.length === 0) throw refuse('no member has pg_state: present');
      primary = present.find((m) => m.member.vars.pg_primary) ?? present[0]!;
      primaryAction = 'bootstrap';
    }
  }

  const [ptli] = advance(primary.facts);
  const replicas: ClusterPlan['replicas'] = [];
  for (const m of present) {
    if (m === primary) continue;
    if (m.facts.state === 'REPLICA') {
      const [tli] = advance(m.facts);
      if (primaryAction === 'keep' && tli > ptli) {
        throw refuse(`${m.member.host} is on timeline ${tli}, ahead of primary ${primary.member.host} (timeline ${ptli}): it was promoted elsewhere`);
      }
      replicas.push({ member: m.member, action: 'keep' });
    } else {
      replicas.push({ member: m.member, action: 'clone' });
    }
  }
  const deactivate = absent.filter((m) => m.facts.state === 'REPLICA').map((m) => m.member);

  const wanted = spec.syncReplicas;
  if (wanted > replicas.length) notes.push(`pg_sync_replicas is ${wanted} but there are only ${replicas.length} replicas`);
  const syncCandidates = replicas.slice(0, wanted).map((r) => slotName(r.member.host));

  return { cluster: spec.name, primary: primary.member, primaryAction, replicas, deactivate, syncCandidates, notes };
}
