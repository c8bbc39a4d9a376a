import { dataDir, type PgNodeFacts } from '../facts/postgres.js';
import type { MemberFacts } from './plan.js';
import { currentPrimary } from './switchover-checks.js';
import type { ClusterSpec, Member } from './vars.js';

/**
 * What rejoin does to the host:
 * - 'converge': it already streams from the primary; only the converge runs;
 * - 'rewind': stop it and pg_rewind it from the primary;
 * - 'reclone': clone it afresh; `moveAside` when its data directory holds data to keep (renamed),
 *   false when it is empty or deactivated (the converge clones it as it stands).
 */
export type RejoinAction = { kind: 'converge' } | { kind: 'rewind' } | { kind: 'reclone'; moveAside: boolean };

export interface RejoinChoice {
  action: RejoinAction;
  /** The running primary it rejoins. */
  primary: Member;
  /** The host's facts, for the steps (version, running). */
  facts: PgNodeFacts;
  /** What the plan line says, e.g. "stop h1, pg_rewind it from h2, start it as a replica". */
  reason: string;
}

/**
 * How rejoin brings `host` back, from the facts alone. Refuses (nothing to change) when the host is
 * not a member, cannot be read, no other member is the one running primary, or it holds another
 * cluster's data (a different system identifier): it is then not a former member.
 */
export function chooseRejoin(spec: ClusterSpec, members: MemberFacts[], host: string, full: boolean): RejoinChoice | { refusal: string } {
  const me = members.find((m) => m.member.host === host);
  if (!me) return { refusal: `${host} is not a member of cluster ${spec.name}` };
  if (!me.facts) return { refusal: `${host} is unreachable` };
  const f = me.facts;
  if (f.state === 'UNKNOWN') return { refusal: `${host}: ${f.detail ?? 'its state cannot be read'}` };
  const primary = currentPrimary(members.filter((m) => m.member.host !== host));
  if (!primary) return { refusal: `no running primary among the other members to rejoin` };
  const pf = members.find((m) => m.member.host === primary.host)!.facts!;
  if (f.systemIdentifier && pf.systemIdentifier && f.systemIdentifier !== pf.systemIdentifier) {
    return {
      refusal: `${host} holds another cluster's data (system identifier ${f.systemIdentifier}, ${primary.host} has ${pf.systemIdentifier}); it is not a former member: move that data directory aside yourself if it is not needed, or fix the inventory`,
    };
  }
  // Configured for the primary is not enough: a replica whose WAL forked off stays 'waiting for WAL'.
  const following = f.state === 'REPLICA' && f.running && f.upstream === primary.address && f.walReceiverStatus === 'streaming';
  if (following && !full) return { action: { kind: 'converge' }, primary, facts: f, reason: `${host} already follows ${primary.host}; converge only` };
  const holdsData = f.state !== 'EMPTY' && f.state !== 'DEACTIVATED';
  if (full || !holdsData) {
    return {
      action: { kind: 'reclone', moveAside: holdsData },
      primary,
      facts: f,
      reason: `move ${dataDir(f.version, spec.name)} aside and clone ${host} from ${primary.host}`,
    };
  }
  return { action: { kind: 'rewind' }, primary, facts: f, reason: `stop ${host}, pg_rewind it from ${primary.host}, start it as a replica` };
}
