import { lsnValue, type PgNodeFacts } from '../facts/postgres.js';
import type { MemberFacts } from './plan.js';
import type { ClusterSpec, Member } from './vars.js';

export interface FailoverChoice {
  /** The replica to promote. */
  target: Member;
  /** Members that are PRIMARY and reachable: stopped and marked standby before the promotion. */
  fence: Member[];
  /** The former primary, when it can be named (a PRIMARY seen, or the host the replicas followed). */
  old?: Member;
  /** Members that could not be read: left out of the run (a dead primary is the usual one). */
  unreachable: string[];
}

/** How far a node's WAL goes: the timeline of the WAL it holds first, then the position on it. */
export function walRank(f: PgNodeFacts): [bigint, bigint] {
  return [BigInt(f.timeline ?? 0), lsnValue(f.lsn)];
}

/** a holds more WAL than b (later timeline, or the same timeline further on). */
export function isAhead(a: PgNodeFacts, b: PgNodeFacts): boolean {
  const [ta, la] = walRank(a);
  const [tb, lb] = walRank(b);
  return ta !== tb ? ta > tb : la > lb;
}

/**
 * Whom failover promotes, from the facts alone: the running replica holding the most WAL (ties
 * go to inventory order), or --target when it holds at least as much. Refuses when a primary
 * still runs (unless forced: migrate-to-master is the way), or when nobody can be promoted.
 */
export function chooseFailoverTarget(spec: ClusterSpec, nodes: MemberFacts[], opts: { target?: string; force: boolean }): FailoverChoice | { refusal: string } {
  const running = nodes.filter((n) => n.facts?.state === 'PRIMARY' && n.facts.running);
  if (running.length === 1 && !opts.force)
    return { refusal: `${running[0]!.member.host} is a running primary; use migrate-to-master (or --force to fail over anyway)` };
  const upstreams = new Set(nodes.map((n) => n.facts?.upstream).filter(Boolean));
  const old = nodes.find((n) => n.facts?.state === 'PRIMARY')?.member ?? nodes.find((n) => !n.facts && upstreams.has(n.member.address))?.member;
  const replicas = nodes.filter((n) => n.facts?.state === 'REPLICA' && n.facts.running && n.member.vars.pg_state === 'present');
  if (!replicas.length) return { refusal: 'no running replica to promote' };
  const best = replicas.reduce((a, b) => (isAhead(b.facts!, a.facts!) ? b : a));
  let target = best;
  if (opts.target) {
    const wanted = replicas.find((r) => r.member.host === opts.target);
    if (!wanted) return { refusal: `--target ${opts.target} is not a running replica of ${spec.name}` };
    if (isAhead(best.facts!, wanted.facts!)) {
      return {
        refusal: `--target ${opts.target} (timeline ${wanted.facts!.timeline}, ${wanted.facts!.lsn}) is behind ${best.member.host} (timeline ${best.facts!.timeline}, ${best.facts!.lsn}): promoting it would lose transactions`,
      };
    }
    target = wanted;
  }
  return {
    target: target.member,
    fence: nodes.filter((n) => n.facts?.state === 'PRIMARY').map((n) => n.member),
    old,
    unreachable: nodes.filter((n) => !n.facts).map((n) => n.member.host),
  };
}
