import { describe, expect, test } from 'vitest';
import { failoverActions } from '../../../roles/failover.js';
import { rewindActions } from '../../../roles/rejoin.js';
import { switchoverActions } from '../../../roles/switchover.js';
import { planFailover, type FailoverPlan } from '../../../src/cluster/failover-plan.js';
import type { MemberFacts } from '../../../src/cluster/plan.js';
import { planAfterSwitchover, planSwitchover, stage, type SwitchoverPlan } from '../../../src/cluster/switchover-plan.js';
import { actionData, describeAction } from '../../../src/engine/action.js';
import { nodeFacts } from '../helpers/node-facts.js';
import { clusterFixture, member } from '../helpers/role-fixture.js';

/* The actions of the switchover's and failover's steps: data where they can be, calls only on sessions opened before. */

const [h1, h2, h3] = [member('h1'), member('h2'), member('h3')];
const facts = { h1: nodeFacts('PRIMARY'), h2: nodeFacts('REPLICA', { upstream: h1.address }), h3: nodeFacts('REPLICA', { upstream: h1.address }) };
const handover = (target = h2, f: Record<string, ReturnType<typeof nodeFacts> | undefined> = facts) => {
  const cc = clusterFixture({ members: [h1, h2, h3], facts: f, syncReplicas: 1 });
  return { ...cc, plan: planAfterSwitchover(cc.spec, target) };
};
const members = (f: Record<string, ReturnType<typeof nodeFacts> | undefined>): MemberFacts[] => [h1, h2, h3].map((m) => ({ member: m, facts: f[m.host] }));

describe('switchover steps: actions', () => {
  const cc = handover();
  const activity = { lsn: '0/3000000', replicas: ['h2', 'h3'].map((name) => ({ name, state: 'streaming', lag: 0 })), oldestXactSeconds: null };
  const plan = planSwitchover(cc.spec, members(facts), ['h1', 'h2', 'h3'], activity, {
    target: 'h2',
    maxLagBytes: 1e6,
    maxTxAgeSeconds: 15,
    force: false,
    pauseTimeoutMs: 5000,
  }) as SwitchoverPlan;
  const actionsOf = switchoverActions(cc, plan, { timings: {} }, 3000);

  test('before the pause: files and SQL as data, the target prepared on its open session', () => {
    const kinds = (step: string, host: string) => actionData(actionsOf(plan.phases.find((p) => p.step === step && p.host === host)!)).map((a) => a.kind);
    expect(kinds('switchover: checkpoint', 'h1')).toEqual(['sql']);
    expect(kinds('switchover: cascade', 'h3')).toEqual(['put', 'sql']);
    expect(kinds('switchover: PgBouncer ini', 'h3')).toEqual(['put', 'run']);
    const actions = actionsOf(plan.phases.find((p) => p.step === 'switchover: prepare')!);
    const prepare = actions.map(describeAction);
    expect(prepare[0]).toMatch(/^then: on the open admin session: select pg_create_physical_replication_slot\('h1'\)/);
    expect(actions[1]).toMatchObject({ kind: 'put', path: '/etc/postgresql/15/main/sync.conf' });
    expect(actions[1]!.kind === 'put' && actions[1]!.content).toContain(`synchronous_standby_names = 'FIRST 1 ("h1", "h3")'`);
    expect(prepare[2]).toBe('then: on the open admin session: select pg_reload_conf()');
  });

  test('inside the pause no step opens an SSH session but the old primary stop (one command): the rest is on sessions opened before', () => {
    const inside = ['pause', 'stop', 'promote', 'repoint', 'resume'].flatMap((s) => stage(plan.phases, s));
    const actions = inside.flatMap((p) => actionData(actionsOf(p)).map((a) => `${p.host}: ${p.step}: ${a.kind}`));
    expect(actions).toEqual([
      'h1: switchover: pause: call',
      'h2: switchover: pause: call',
      'h3: switchover: pause: call',
      'h1: switchover: stop: call',
      'h2: switchover: promote: call',
      'h2: switchover: promote: call',
      'h1: switchover: reload: call',
      'h2: switchover: reload: call',
      'h3: switchover: reload: call',
      'h1: switchover: resume: call',
      'h2: switchover: resume: call',
      'h3: switchover: resume: call',
    ]);
    expect(describeAction(actionsOf(stage(plan.phases, 'stop')[0]!)[0]!)).toMatch(/kill -INT "\$pid"[\s\S]*pg_controldata/);
  });
});

describe('failover steps: actions', () => {
  const orphan = nodeFacts('REPLICA', { upstream: h1.address });
  const f = { h1: nodeFacts('PRIMARY', { running: false }), h2: orphan, h3: orphan };
  const plan = planFailover(handover().spec, members(f), ['h1', 'h2', 'h3'], { force: false }) as FailoverPlan;
  const actionsOf = failoverActions(handover(h2, f), plan, {}, 42);

  test('the fence is one command (mark standby; stop first when running); the pause writes its marker before PAUSE', () => {
    const fence = actionsOf(plan.phases.find((p) => p.step === 'failover: fence')!);
    expect(fence.map(describeAction)).toEqual(['install -o postgres -g postgres -m 0600 /dev/null /var/lib/postgresql/15/main/standby.signal']);
    const pause = actionsOf(plan.phases.find((p) => p.step === 'failover: pause')!).map(describeAction);
    expect(pause[0]).toBe('install -m 0644 /dev/null /var/run/postgresql/pgbouncer.pgtasks-paused');
    expect(pause[1]).toMatch(/^then: PAUSE/);
  });

  test('pg_rewind: the password only in a secret 0600 passfile, removed after the one command; standby.signal put back whatever happens', () => {
    const actions = rewindActions(handover().spec, 'failover', h2, 'admin-secret-pw', 42, () => ({ version: 15, systemd: false }))['failover: pg_rewind']!(
      'h3',
    );
    const data = actionData(actions);
    expect(data[0]).toMatchObject({ kind: 'put', path: '/tmp/pgtasks-rewind-42', mode: '0600', owner: 'postgres', content: '(secret)' });
    expect(data[1]).toMatchObject({ kind: 'run', command: 'rm -f /var/lib/postgresql/15/main/standby.signal' });
    const rewind = describeAction(actions[2]!);
    expect(rewind).toContain(
      "'--source-server=host=10.0.0.2 port=5432 user=admin dbname=postgres passfile=/tmp/pgtasks-rewind-42 sslmode=verify-full sslrootcert=/etc/postgresql/15/main/root.crt'",
    );
    expect(rewind).toContain('rm -f /tmp/pgtasks-rewind-42');
    expect(rewind).not.toContain('admin-secret-pw');
  });
});
