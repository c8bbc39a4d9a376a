import { BouncerFleet } from '../src/cluster/bouncer-fleet.js';
import type { ClusterContext } from '../src/cluster/cluster-context.js';
import { ADMIN_USER, clusterCredentials } from '../src/cluster/credentials.js';
import { FAILOVER_STAGES, planFailover, type FailoverPlan } from '../src/cluster/failover-plan.js';
import { gatherCluster, type GatheredCluster } from '../src/cluster/gather.js';
import { unfinishedRunOf } from '../src/cluster/lock.js';
import { describeHolder } from '../src/cluster/lock-script.js';
import { stage, type Phase } from '../src/cluster/switchover-plan.js';
import { slotName, type ClusterSpec } from '../src/cluster/vars.js';
import { and, sh } from '../src/connection/shell.js';
import { call, runAction, type Action } from '../src/engine/action.js';
import type { Run } from '../src/engine/run.js';
import { dataDir, type PgNodeFacts } from '../src/facts/postgres.js';
import { pgSession, type PgSession } from '../src/steps/pg-client.js';
import { pgServiceCommand } from '../src/steps/postgres.js';
import { configureCluster } from './cluster.js';
import { bouncerIniAction, handoverContext, pauseMarkerAction, prepareTargetActions, runStage, streamFromTargetActions } from './handover.js';
import { rewindActions } from './rejoin.js';
import { promoteNow, waitForStreaming } from './switchover-steps.js';

export interface FailoverOptions {
  target?: string;
  force: boolean;
  confirm: (question: string) => Promise<boolean>;
}

/** What the failover's steps share while they run: the target's session and the fleet (none in check mode). */
export interface FailoverHandles {
  session?: PgSession;
  fleet?: BouncerFleet;
  promoted?: boolean;
}

const the = <T>(value: T | undefined, what: string): T => {
  if (value === undefined) throw new Error(`${what} is not open`);
  return value;
};

/** The actions of each of the failover's steps (calls only where a session or the fleet is needed). */
export function failoverActions(cc: ClusterContext, plan: FailoverPlan, h: FailoverHandles, pid: number): (p: Phase) => Action[] {
  const { target, targetFacts: tf } = plan;
  const session = () => the(h.session, `the admin session on ${target.host}`);
  const fleet = () => the(h.fleet, 'PgBouncer');
  const byStep: Record<string, (host: string) => Action[]> = {
    'failover: pause': (host) => [
      pauseMarkerAction(),
      // Server connections to a dead primary may never be released: PAUSE holds new queries at once,
      // and waiting for it to complete is pointless, so it is bounded short and not required.
      call('PAUSE (on the open admin console; new queries wait at once, at most 500 ms for server connections)', () =>
        fleet().pause({ timeoutMs: 500, keepPausedOnTimeout: true, hosts: [host] }),
      ),
    ],
    'failover: fence': (host) => {
      const s = { version: tf.version, cluster: cc.spec.name, systemd: cc.systemd.get(host) ?? false };
      const markStandby = sh`install -o postgres -g postgres -m 0600 /dev/null ${`${dataDir(s.version, cc.spec.name)}/standby.signal`}`;
      return [runAction(cc.facts.get(host)!.running ? and(pgServiceCommand(s, 'stop', 'immediate'), markStandby) : markStandby)];
    },
    'failover: prepare': () => prepareTargetActions(cc, session),
    'failover: cascade': (host) => streamFromTargetActions(cc, host),
    'failover: PgBouncer ini': (host) => [bouncerIniAction(cc, host)],
    'failover: promote': () => [
      call('select pg_promote(false), then watch pg_is_in_recovery() every 5 ms', async () => {
        await promoteNow(session());
        h.promoted = true;
      }),
      ...(plan.sync && plan.cascading.length
        ? [
            // Commits wait for a sync replica: resuming clients before one streams would only move the wait.
            call(`wait (at most 5 s) until ${plan.cascading.map((m) => m.host).join(', ')} stream from ${target.host}`, async (ctx) => {
              const missing = await waitForStreaming(
                session(),
                plan.cascading.map((m) => slotName(m.host)),
                5000,
              );
              if (missing.length === plan.cascading.length) ctx.message(`no replica streams from ${target.host} yet: commits wait until one does`);
            }),
          ]
        : []),
    ],
    'failover: repoint': (host) => [call('RELOAD, RECONNECT (on the open admin console)', () => fleet().command(['RELOAD', 'RECONNECT'], [host]))],
    'failover: resume': (host) => [
      call('RESUME (on the open admin console), then remove the pause marker', async () => {
        const failed = await fleet().resume([host]);
        if (failed.length) throw new Error(`RESUME failed on ${failed.join('; ')}: the next pgtasks run on this cluster resumes it`);
      }),
    ],
    ...rewindActions(cc.spec, 'failover', target, cc.creds.admin, pid, (host) => ({
      version: cc.facts.get(host)?.version ?? tf.version,
      systemd: cc.systemd.get(host) ?? false,
    })),
  };
  return (p) => {
    const build = byStep[p.step];
    if (!build) throw new Error(`no actions for ${p.step}`);
    return build(p.host);
  };
}

/**
 * failover: the primary is down or unreachable. PgBouncer is PAUSEd first (new queries wait instead
 * of failing against a dead server), the old primary fenced when it can be reached (stopped, marked
 * standby: never two primaries), the target prepared as in a switchover (slots, its synchronous
 * replicas named before it takes writes, the other replicas cascading from it), promoted, PgBouncer
 * repointed and RESUMEd — then the slower converge. A replica that can no longer follow is rewound
 * in the same run. The old primary comes back with `pgtasks rejoin`. The decision is planFailover's.
 */
export async function failover(run: Run, spec: ClusterSpec, opts: FailoverOptions): Promise<void> {
  const started = Date.now();
  const gathered = await gatherCluster(run, spec);
  const refuse = (why: string) => run.refuse(`failover ${spec.name}: ${why}; nothing was changed`);
  const plan = planFailover(spec, gathered.members, gathered.bouncers.keys(), opts);
  if ('refusal' in plan) {
    if (!(await finishKilledFailover(run, spec, gathered))) refuse(plan.refusal);
    return;
  }
  const { target, unreachable, exclude } = plan;
  run.message(plan.message);
  if (!run.options.check && !(await opts.confirm(`Promote ${target.host} to primary of ${spec.name}?`))) return refuse('not confirmed');

  const facts = new Map(gathered.members.filter((m) => m.facts).map((m) => [m.member.host, m.facts!] as [string, PgNodeFacts]));
  const creds = await clusterCredentials(spec.credentialsDir, spec.name, false, run.secrets);
  const cc = handoverContext(run, spec, target, gathered, facts, plan.targetFacts.version, creds);
  const h: FailoverHandles = {};
  const actionsOf = failoverActions(cc, plan, h, run.io.pid);
  const failed = new Set<string>();
  const stageOf = (name: string) => runStage(run, stage(plan.phases, name), actionsOf, failed);
  if (run.options.check) {
    // Nothing is opened and nothing runs: each step says what it would do (with -v, every action).
    for (const name of [...FAILOVER_STAGES, 'rewind: checkpoint', 'rewind: stop', 'rewind']) await stageOf(name).catch(() => {});
    return;
  }

  const reachable = { ...spec, members: spec.members.filter((m) => plan.bouncers.includes(m.host)) };
  h.fleet = await BouncerFleet.open(run, reachable, plan.bouncers, creds.admin);
  h.session = await pgSession(await run.context(target.host), { user: ADMIN_USER, password: creds.admin, port: spec.port, database: 'postgres' });
  try {
    await stageOf('pause');
    await stageOf('prepare');
    await stageOf('promote');
    await stageOf('repoint');
  } finally {
    const resume = stage(plan.phases, 'resume').map((p) => (h.promoted ? p : { ...p, summary: 'PgBouncer resumed' }));
    await runStage(run, resume, actionsOf).catch(() => {});
    await Promise.all([h.session.close(), h.fleet.close()]);
  }
  const writesBackMs = Date.now() - started;

  // A replica that cannot follow is rewound from the new primary; one that fails is left stopped and marked standby.
  for (const name of ['rewind: checkpoint', 'rewind: stop', 'rewind']) await stageOf(name).catch(() => {});
  await configureCluster(run, spec, { exclude });
  // The premise of a failover is a dead primary: its being unreachable is not this run's failure.
  for (const u of unreachable) run.excuseUnreachable(u);
  const text = `failover done: ${target.host} is primary of ${spec.name} (clients released ${writesBackMs} ms after the start); bring ${exclude.join(', ') || 'the old primary'} back with 'pgtasks rejoin --host HOST'`;
  run.emit({ type: 'result', task: 'failover', data: { cluster: spec.name, primary: target.host, writesBackMs, excluded: exclude }, text });
}

/**
 * A failover killed after its promotion leaves a running primary, so running it again would refuse
 * ("a running primary: use migrate-to-master"), and configure-cluster refuses while the dead primary
 * is unreachable: nothing would finish the converge the killed run did not get to (the replicas'
 * sync setting, PgBouncer everywhere, the service name). When the run before this one on the cluster
 * was a failover that did not finish, and exactly one primary runs, this one finishes it: converges
 * the others, leaving out the unreachable and the stopped members on an older timeline (the fenced
 * old primary: back with rejoin), as the killed run would have. Returns false when that is not the case.
 */
async function finishKilledFailover(run: Run, spec: ClusterSpec, gathered: GatheredCluster): Promise<boolean> {
  const previous = unfinishedRunOf(run, spec.name);
  const primaries = gathered.members.filter((m) => m.facts?.state === 'PRIMARY' && m.facts.running);
  if (previous?.task !== 'failover' || primaries.length !== 1 || run.options.check) return false;
  const primary = primaries[0]!;
  const timeline = primary.facts!.timeline ?? 0;
  const exclude = gathered.members
    .filter((m) => m !== primary && (!m.facts || (!m.facts.running && (m.facts.timeline ?? 0) < timeline)))
    .map((m) => m.member.host);
  run.message(
    `the failover before this run (${describeHolder(previous)}) did not finish; ${primary.member.host} runs as primary: finishing it` +
      (exclude.length ? ` (${exclude.join(', ')} left out: bring back with 'pgtasks rejoin --host HOST')` : ''),
  );
  await configureCluster(run, spec, { exclude });
  for (const u of exclude) run.excuseUnreachable(u);
  run.emit({
    type: 'result',
    task: 'failover',
    data: { cluster: spec.name, primary: primary.member.host, finished: true, excluded: exclude },
    text: `failover finished: ${primary.member.host} is primary of ${spec.name}${exclude.length ? `; bring ${exclude.join(', ')} back with 'pgtasks rejoin --host HOST'` : ''}`,
  });
  return true;
}
