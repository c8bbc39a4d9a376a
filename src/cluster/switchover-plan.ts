import { syncSetting } from './sync-setting.js';
import type { PgNodeFacts } from '../facts/postgres.js';
import { fleetMembers } from './bouncer-fleet.js';
import type { ClusterPlan, MemberFacts } from './plan.js';
import { currentPrimary, switchoverProblems, type PrimaryActivity, type SwitchoverLimits } from './switchover-checks.js';
import { slotName, type ClusterSpec, type Member } from './vars.js';

/**
 * One step of a handover (switchover, failover, rejoin) on one host, as the plan decides it: the
 * stage it belongs to (steps of a stage run together, stages in order), the step's name as the run
 * reports it, and what it will do. The roles attach the actions; the engine runs and reports them.
 */
export interface Phase {
  stage: string;
  host: string;
  step: string;
  summary: string;
}

/** The cluster as it will be once `target` is primary: everybody else present is its replica, inventory order. */
export function planAfterSwitchover(spec: ClusterSpec, target: Member): ClusterPlan {
  const replicas = spec.members.filter((m) => m.host !== target.host && m.vars.pg_state === 'present').map((member) => ({ member, action: 'keep' as const }));
  return {
    cluster: spec.name,
    primary: target,
    primaryAction: 'keep',
    replicas,
    deactivate: [],
    syncCandidates: spec.syncReplicas > 0 ? replicas.map((r) => slotName(r.member.host)) : [],
    notes: [],
  };
}

export interface SwitchoverPlanOptions extends SwitchoverLimits {
  target: string;
  /** How long PAUSE may wait for running transactions before the switchover is called off. */
  pauseTimeoutMs: number;
}

/** Stages of a switchover, in order: everything before `pause` is done while clients still run. */
export const SWITCHOVER_STAGES = ['prepare', 'pause', 'stop', 'promote', 'repoint', 'resume'] as const;

export interface SwitchoverPlan {
  primary: Member;
  target: Member;
  version: number;
  /** The cluster once the target is primary. */
  after: ClusterPlan;
  /** The target's synchronous_standby_names, loaded while it is still a standby. */
  sync: string;
  /** Slots the target gets for its future replicas. */
  slots: string[];
  /** Running replicas (other than the old primary) that stream from the target instead. */
  cascade: Member[];
  /** They do so before the pause: only while one sync replica is asked for (the old primary keeps enough). */
  cascadeEarly: boolean;
  /** The members whose PgBouncer is paused, repointed and resumed. */
  bouncers: string[];
  phases: Phase[];
  /** The plan line the task prints first. */
  message: string;
}

/**
 * migrate-to-master's decision, from the facts alone: refused (with every problem) or the steps on
 * each host, stage by stage. `activity` is the primary's side of the prechecks (lag, old transactions).
 */
export function planSwitchover(
  spec: ClusterSpec,
  members: MemberFacts[],
  liveBouncers: Iterable<string>,
  activity: PrimaryActivity | undefined,
  opts: SwitchoverPlanOptions,
): SwitchoverPlan | { refusal: string } {
  const problems = switchoverProblems(spec, opts.target, members, activity, opts);
  const primary = currentPrimary(members);
  const target = spec.members.find((m) => m.host === opts.target);
  if (problems.length || !primary || !target) return { refusal: problems.join('; ') || 'no primary or no target' };
  const facts = new Map(members.filter((m) => m.facts).map((m) => [m.member.host, m.facts!] as [string, PgNodeFacts]));
  const after = planAfterSwitchover(spec, target);
  const sync = syncSetting(after.syncCandidates, spec.syncReplicas);
  const slots = after.replicas.map((r) => slotName(r.member.host));
  const cascade = after.replicas
    .map((r) => r.member)
    .filter((m) => m.host !== primary.host && facts.get(m.host)?.state === 'REPLICA' && facts.get(m.host)?.running);
  // Cascading early keeps the old primary's sync replica count only while one sync replica is asked for.
  const cascadeEarly = spec.syncReplicas <= 1;
  const bouncers = fleetMembers(spec, liveBouncers).map((m) => m.host);
  const phase = (stage: string, host: string, step: string, summary: string): Phase => ({ stage, host, step: `switchover: ${step}`, summary });
  const cascading = (stage: string) => cascade.map((m) => phase(stage, m.host, 'cascade', `stream from ${target.host} (follows its promotion by itself)`));
  const phases: Phase[] = [
    phase('prepare', primary.host, 'checkpoint', 'CHECKPOINT: the shutdown checkpoint inside the pause has little left to write'),
    phase('prepare', target.host, 'prepare', `slots ${slots.join(', ') || 'none'} and synchronous_standby_names '${sync}', loaded while still a standby`),
    ...(cascadeEarly ? cascading('prepare') : []),
    ...bouncers.map((h) => phase('prepare', h, 'PgBouncer ini', `ini pointing at ${target.address}, loaded by the RELOAD at the switch; pause marker`)),
    ...bouncers.map((h) => phase('pause', h, 'pause', `PgBouncer paused (at most ${opts.pauseTimeoutMs} ms): queries wait`)),
    phase('stop', primary.host, 'stop', `stop ${primary.host} cleanly (fast shutdown), mark it standby`),
    ...(cascadeEarly ? [] : cascading('stop')),
    phase(
      'promote',
      target.host,
      'promote',
      `promote ${target.host} once it has replayed ${primary.host}'s shutdown checkpoint; synchronous_standby_names '${sync}'`,
    ),
    ...bouncers.map((h) => phase('repoint', h, 'reload', `RELOAD: PgBouncer connects to ${target.host} (${target.address})`)),
    ...bouncers.map((h) => phase('resume', h, 'resume', `PgBouncer resumed on ${target.host}`)),
  ];
  const message =
    `plan: prepare (checkpoint on ${primary.host}; slots ${slots.join(', ') || 'none'} and synchronous_standby_names '${sync}' on ${target.host}` +
    `${cascade.length ? `; ${cascade.map((m) => m.host).join(', ')} stream from ${target.host}${cascadeEarly ? '' : ' (inside the pause)'}` : ''}; PgBouncer ini pointing at ${target.address}); ` +
    `pause PgBouncer (at most ${opts.pauseTimeoutMs} ms); stop ${primary.host} cleanly and mark it standby; promote ${target.host} once it has replayed the shutdown checkpoint; reload and resume PgBouncer; then ${primary.host} follows ${target.host}`;
  return { primary, target, version: facts.get(primary.host)!.version, after, sync, slots, cascade, cascadeEarly, bouncers, phases, message };
}

/** The phases of one stage, in plan order. */
export function stage(phases: Phase[], name: string): Phase[] {
  return phases.filter((p) => p.stage === name);
}
