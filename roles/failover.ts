import { BouncerFleet } from '../src/cluster/bouncer-fleet.js';
import { ADMIN_USER, clusterCredentials } from '../src/cluster/credentials.js';
import { chooseFailoverTarget } from '../src/cluster/failover-choice.js';
import { gatherCluster } from '../src/cluster/gather.js';
import { cannotFollow } from '../src/cluster/plan.js';
import { slotName, type ClusterSpec } from '../src/cluster/vars.js';
import type { Run } from '../src/engine/run.js';
import { dataDir, type PgNodeFacts } from '../src/facts/postgres.js';
import { and, sh } from '../src/connection/shell.js';
import { pgSession } from '../src/steps/pg-client.js';
import { pgServiceCommand } from '../src/steps/postgres.js';
import { configureCluster } from './cluster.js';
import { handoverContext, planAfterSwitchover, prepareTarget, streamFromTarget, writeBouncerIni } from './handover.js';
import { rewindReplica } from './rejoin.js';
import { promoteNow, waitForStreaming } from './switchover-steps.js';
import { syncSetting } from './sync.js';

export interface FailoverOptions {
  target?: string;
  force: boolean;
  confirm: (question: string) => Promise<boolean>;
}

/**
 * failover: the primary is down or unreachable. PgBouncer is PAUSEd first (new queries wait instead
 * of failing against a dead server), the old primary fenced when it can be reached (stopped, marked
 * standby: never two primaries), the target prepared as in a switchover (slots, its synchronous
 * replicas named before it takes writes, the other replicas cascading from it), promoted, PgBouncer
 * repointed and RESUMEd — then the slower converge. A replica that can no longer follow is rewound
 * in the same run. The old primary comes back with `pgtasks rejoin`.
 */
export async function failover(run: Run, spec: ClusterSpec, opts: FailoverOptions): Promise<void> {
  const started = Date.now();
  const gathered = await gatherCluster(run, spec);
  const refuse = (why: string) => run.refuse(`failover ${spec.name}: ${why}; nothing was changed`);
  const choice = chooseFailoverTarget(spec, gathered.members, opts);
  if ('refusal' in choice) return refuse(choice.refusal);
  const { target, fence, old, unreachable } = choice;
  const facts = new Map(gathered.members.filter((m) => m.facts).map((m) => [m.member.host, m.facts!] as [string, PgNodeFacts]));
  const tf = facts.get(target.host)!;
  const after = planAfterSwitchover(spec, target);
  const sync = syncSetting(after.syncCandidates, spec.syncReplicas);
  const others = after.replicas.map((r) => r.member).filter((m) => facts.get(m.host)?.state === 'REPLICA' && facts.get(m.host)?.running);
  const diverged = others.filter((m) => cannotFollow(facts.get(m.host)!, { ...tf, running: true, history: undefined }, target.address));
  const cascading = others.filter((m) => !diverged.includes(m));
  run.message(
    `plan: pause PgBouncer; ${fence.length ? `fence ${fence.map((f) => f.host).join(', ')} (stop, mark standby); ` : ''}` +
      `prepare ${target.host} (slots, synchronous_standby_names '${sync}')${cascading.length ? `, ${cascading.map((m) => m.host).join(', ')} stream from it` : ''}; ` +
      `promote ${target.host} (timeline ${tf.timeline}, ${tf.lsn}); repoint and resume PgBouncer; converge the others` +
      `${diverged.length ? `; rewind ${diverged.map((m) => m.host).join(', ')} (ahead of ${target.host})` : ''}${unreachable.length ? `; ${unreachable.join(', ')} unreachable and cannot be fenced: make sure it is down` : ''}`,
  );
  if (run.options.check) return;
  if (!(await opts.confirm(`Promote ${target.host} to primary of ${spec.name}?`))) return refuse('not confirmed');

  const creds = await clusterCredentials(spec.credentialsDir, spec.name, false, run.secrets);
  const cc = handoverContext(run, spec, target, gathered, facts, tf.version, creds);
  const reachable = { ...spec, members: spec.members.filter((m) => facts.has(m.host) && !fence.some((f) => f.host === m.host)) };
  const emit = (host: string, step: string, message: string) =>
    run.emit({ type: 'step', host, step: `failover: ${step}`, status: 'changed', message, check: false });
  const fleet = await BouncerFleet.open(run, reachable, gathered.bouncers.keys(), creds.admin);
  const targetCtx = await run.context(target.host);
  const session = await pgSession(targetCtx, { user: ADMIN_USER, password: creds.admin, port: spec.port, database: 'postgres' });
  let promotedAt = 0;
  try {
    await fleet.markPausing();
    // Server connections to a dead primary may never be released: PAUSE holds new queries at once,
    // and waiting for it to complete is pointless, so it is bounded short and not required.
    await fleet.pause({ timeoutMs: 500, keepPausedOnTimeout: true });
    fleet.hosts.forEach((h) => emit(h, 'pause', 'PgBouncer paused: new queries wait'));
    await Promise.all([
      ...fence.map(async (f) => {
        const ctx = await run.context(f.host);
        const s = { version: tf.version, cluster: spec.name, systemd: gathered.systemd.get(f.host) ?? false };
        const markStandby = sh`install -o postgres -g postgres -m 0600 /dev/null ${`${dataDir(s.version, spec.name)}/standby.signal`}`;
        await ctx.run(facts.get(f.host)!.running ? and(pgServiceCommand(s, 'stop', 'immediate'), markStandby) : markStandby);
        emit(f.host, 'fence', 'stopped and marked standby');
      }),
      prepareTarget(targetCtx, session, cc),
      ...cascading.map((m) => streamFromTarget(run, cc, m.host)),
      ...fleet.hosts.map((h) => writeBouncerIni(run, cc, h)),
    ]);
    await promoteNow(session);
    promotedAt = Date.now();
    emit(target.host, 'promote', `promoted at ${tf.lsn} (timeline ${tf.timeline}); synchronous_standby_names '${sync}'`);
    if (sync && cascading.length) {
      // Commits wait for a sync replica: resuming clients before one streams would only move the wait.
      const missing = await waitForStreaming(
        session,
        cascading.map((m) => slotName(m.host)),
        5000,
      );
      if (missing.length === cascading.length) run.message(`no replica streams from ${target.host} yet: commits wait until one does`);
    }
    await fleet.command(['RELOAD', 'RECONNECT']);
  } finally {
    const failed = await fleet.resume();
    for (const f of failed) run.message(`RESUME failed on ${f}: the next pgtasks run on this cluster resumes it`);
    fleet.hosts.forEach((h) => emit(h, 'resume', `PgBouncer resumed${promotedAt ? ` on ${target.host}` : ''}`));
    await Promise.all([session.close(), fleet.close()]);
  }
  const writesBackMs = Date.now() - started;

  for (const m of diverged) {
    const error = await rewindReplica(run, spec, m.host, target, facts.get(m.host), gathered.systemd.get(m.host) ?? false);
    if (error) run.emit({ type: 'step', host: m.host, step: 'failover: rewind', status: 'failed', message: error, check: false });
  }
  const exclude = [...new Set([...fence.map((f) => f.host), ...(old ? [old.host] : []), ...unreachable])];
  await configureCluster(run, spec, { exclude });
  // The premise of a failover is a dead primary: its being unreachable is not this run's failure.
  for (const h of unreachable) run.excuseUnreachable(h);
  const text = `failover done: ${target.host} is primary of ${spec.name} (clients released ${writesBackMs} ms after the start); bring ${exclude.join(', ') || 'the old primary'} back with 'pgtasks rejoin --host HOST'`;
  run.emit({ type: 'result', task: 'failover', data: { cluster: spec.name, primary: target.host, writesBackMs, excluded: exclude }, text });
}
