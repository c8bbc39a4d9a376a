import { syncSetting } from './sync-setting.js';
import type { PgNodeFacts } from '../facts/postgres.js';
import { fleetMembers } from './bouncer-fleet.js';
import { chooseFailoverTarget, type FailoverChoice } from './failover-choice.js';
import { cannotFollow, type ClusterPlan, type MemberFacts } from './plan.js';
import { rewindPhases } from './rejoin-plan.js';
import { planAfterSwitchover, type Phase } from './switchover-plan.js';
import type { ClusterSpec, Member } from './vars.js';

/** Stages of a failover, in order: clients wait from `pause` to `resume`. */
export const FAILOVER_STAGES = ['pause', 'prepare', 'promote', 'repoint', 'resume'] as const;

export interface FailoverPlan extends FailoverChoice {
  targetFacts: PgNodeFacts;
  /** The cluster once the target is primary. */
  after: ClusterPlan;
  sync: string;
  /** Running replicas that stream from the target before its promotion (they follow it by themselves). */
  cascading: Member[];
  /** Running replicas whose WAL went past the target's: rewound from it once it is primary. */
  diverged: Member[];
  /** The members whose PgBouncer is paused, repointed and resumed (reachable and not fenced). */
  bouncers: string[];
  /** Left out of the converge: the fenced, the old primary, the unreachable (back with rejoin). */
  exclude: string[];
  phases: Phase[];
  message: string;
}

/**
 * failover's decision, from the facts alone: whom to promote (failover-choice), whom to fence, which
 * replicas cascade from the target and which must be rewound, and the steps on each host.
 */
export function planFailover(
  spec: ClusterSpec,
  members: MemberFacts[],
  liveBouncers: Iterable<string>,
  opts: { target?: string; force: boolean },
): FailoverPlan | { refusal: string } {
  const choice = chooseFailoverTarget(spec, members, opts);
  if ('refusal' in choice) return choice;
  const { target, fence, old, unreachable } = choice;
  const facts = new Map(members.filter((m) => m.facts).map((m) => [m.member.host, m.facts!] as [string, PgNodeFacts]));
  const tf = facts.get(target.host)!;
  const after = planAfterSwitchover(spec, target);
  const sync = syncSetting(after.syncCandidates, spec.syncReplicas);
  const others = after.replicas.map((r) => r.member).filter((m) => facts.get(m.host)?.state === 'REPLICA' && facts.get(m.host)?.running);
  const diverged = others.filter((m) => cannotFollow(facts.get(m.host)!, { ...tf, running: true, history: undefined }, target.address));
  const cascading = others.filter((m) => !diverged.includes(m));
  const reachable = { ...spec, members: spec.members.filter((m) => facts.has(m.host) && !fence.some((f) => f.host === m.host)) };
  const bouncers = fleetMembers(reachable, liveBouncers).map((m) => m.host);
  const exclude = [...new Set([...fence.map((f) => f.host), ...(old ? [old.host] : []), ...unreachable])];
  const phase = (stage: string, host: string, step: string, summary: string): Phase => ({ stage, host, step: `failover: ${step}`, summary });
  const phases: Phase[] = [
    ...bouncers.map((h) => phase('pause', h, 'pause', 'PgBouncer paused: new queries wait')),
    ...fence.map((f) => phase('prepare', f.host, 'fence', `${facts.get(f.host)!.running ? 'stop (immediate) and ' : ''}mark standby: never two primaries`)),
    phase('prepare', target.host, 'prepare', `slots ${after.replicas.map((r) => r.member.host).join(', ') || 'none'} and synchronous_standby_names '${sync}'`),
    ...cascading.map((m) => phase('prepare', m.host, 'cascade', `stream from ${target.host} (follows its promotion by itself)`)),
    ...bouncers.map((h) => phase('prepare', h, 'PgBouncer ini', `ini pointing at ${target.address}`)),
    phase('promote', target.host, 'promote', `promote at ${tf.lsn} (timeline ${tf.timeline}); synchronous_standby_names '${sync}'`),
    ...bouncers.map((h) => phase('repoint', h, 'repoint', `RELOAD, RECONNECT: PgBouncer connects to ${target.host} (${target.address})`)),
    ...bouncers.map((h) => phase('resume', h, 'resume', `PgBouncer resumed on ${target.host}`)),
    ...rewindPhases(
      'failover',
      diverged.map((m) => ({ host: m.host, running: facts.get(m.host)!.running })),
      target,
    ),
  ];
  const message =
    `plan: pause PgBouncer; ${fence.length ? `fence ${fence.map((f) => f.host).join(', ')} (stop, mark standby); ` : ''}` +
    `prepare ${target.host} (slots, synchronous_standby_names '${sync}')${cascading.length ? `, ${cascading.map((m) => m.host).join(', ')} stream from it` : ''}; ` +
    `promote ${target.host} (timeline ${tf.timeline}, ${tf.lsn}); repoint and resume PgBouncer; converge the others` +
    `${diverged.length ? `; rewind ${diverged.map((m) => m.host).join(', ')} (ahead of ${target.host})` : ''}${unreachable.length ? `; ${unreachable.join(', ')} unreachable and cannot be fenced: make sure it is down` : ''}`;
  return { ...choice, targetFacts: tf, after, sync, cascading, diverged, bouncers, exclude, phases, message };
}
