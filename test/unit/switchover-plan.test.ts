import { describe, expect, test } from 'vitest';
import type { MemberFacts } from '../../src/cluster/plan.js';
import type { PrimaryActivity } from '../../src/cluster/switchover-checks.js';
import { planSwitchover, stage, type SwitchoverPlan } from '../../src/cluster/switchover-plan.js';
import type { ClusterSpec, Member } from '../../src/cluster/vars.js';
import type { PgNodeFacts } from '../../src/facts/postgres.js';
import { nodeFacts } from './helpers/node-facts.js';
import { member } from './helpers/role-fixture.js';

/*
 * migrate-to-master's decision as data: {inventory, facts, the primary's activity} -> refusal, or the
 * steps on each host stage by stage. What the steps then run is in test/unit/roles/handover.test.ts.
 */

const [h1, h2, h3, h4] = [member('h1'), member('h2'), member('h3'), member('h4')];
const spec = (members: Member[], syncReplicas = 1): ClusterSpec => ({ name: 'main', members, port: 5432, syncReplicas, credentialsDir: '/c' });
const node = (m: Member, f?: PgNodeFacts): MemberFacts => ({ member: m, facts: f, unreachable: f ? undefined : 'unreachable' });
const primary = () => nodeFacts('PRIMARY', { lsn: '0/5000000' });
const replicaOf = (upstream: Member) => nodeFacts('REPLICA', { upstream: upstream.address, walReceiverStatus: 'streaming' });
const activity = (lags: Record<string, number>, extra: Partial<PrimaryActivity> = {}): PrimaryActivity => ({
  lsn: '0/5000000',
  replicas: Object.entries(lags).map(([name, lag]) => ({ name, state: 'streaming', lag })),
  oldestXactSeconds: null,
  ...extra,
});
const opts = { target: 'h2', maxLagBytes: 16 * 1024 * 1024, maxTxAgeSeconds: 15, force: false, pauseTimeoutMs: 10_000 };
const steps = (plan: SwitchoverPlan, name: string) => stage(plan.phases, name).map((p) => `${p.host}: ${p.step}`);

describe('switchover plan: what runs where, stage by stage', () => {
  test('3 members, one sync replica: h3 cascades from h2 before the pause; inside it only stop, promote, reload, resume', () => {
    const members = [node(h1, primary()), node(h2, replicaOf(h1)), node(h3, replicaOf(h1))];
    const plan = planSwitchover(spec([h1, h2, h3]), members, ['h1', 'h2', 'h3'], activity({ h2: 0, h3: 0 }), opts) as SwitchoverPlan;
    expect([plan.primary.host, plan.target.host, plan.sync, plan.slots, plan.cascadeEarly]).toEqual(['h1', 'h2', 'FIRST 1 ("h1", "h3")', ['h1', 'h3'], true]);
    expect(steps(plan, 'prepare')).toEqual([
      'h1: switchover: checkpoint',
      'h2: switchover: prepare',
      'h3: switchover: cascade',
      'h1: switchover: PgBouncer ini',
      'h2: switchover: PgBouncer ini',
      'h3: switchover: PgBouncer ini',
    ]);
    expect(steps(plan, 'pause')).toEqual(['h1: switchover: pause', 'h2: switchover: pause', 'h3: switchover: pause']);
    expect(steps(plan, 'stop')).toEqual(['h1: switchover: stop']);
    expect(steps(plan, 'promote')).toEqual(['h2: switchover: promote']);
    expect(steps(plan, 'repoint')).toEqual(['h1: switchover: reload', 'h2: switchover: reload', 'h3: switchover: reload']);
    expect(steps(plan, 'resume')).toEqual(['h1: switchover: resume', 'h2: switchover: resume', 'h3: switchover: resume']);
    expect(plan.phases.find((p) => p.step === 'switchover: prepare')!.summary).toBe(
      `slots h1, h3 and synchronous_standby_names 'FIRST 1 ("h1", "h3")', loaded while still a standby`,
    );
    expect(plan.message).toBe(
      `plan: prepare (checkpoint on h1; slots h1, h3 and synchronous_standby_names 'FIRST 1 ("h1", "h3")' on h2; h3 stream from h2; PgBouncer ini pointing at 10.0.0.2); ` +
        'pause PgBouncer (at most 10000 ms); stop h1 cleanly and mark it standby; promote h2 once it has replayed the shutdown checkpoint; reload and resume PgBouncer; then h1 follows h2',
    );
  });

  test('cascading replicas: every running replica but the old primary streams from the target; a stopped one and PgBouncer that did not answer are left to the converge', () => {
    const members = [node(h1, primary()), node(h2, replicaOf(h1)), node(h3, replicaOf(h1)), node(h4, nodeFacts('REPLICA', { running: false }))];
    const plan = planSwitchover(spec([h1, h2, h3, h4]), members, ['h1', 'h2', 'h3'], activity({ h2: 0, h3: 0 }), opts) as SwitchoverPlan;
    expect(plan.cascade.map((m) => m.host)).toEqual(['h3']);
    expect(plan.slots).toEqual(['h1', 'h3', 'h4']);
    expect(plan.bouncers).toEqual(['h1', 'h2', 'h3']);
    expect(steps(plan, 'prepare')).toContain('h3: switchover: cascade');
    expect(plan.phases.filter((p) => p.host === 'h4')).toEqual([]);
  });

  test('sync_replicas 2: the cascade waits for the pause (the old primary keeps its two sync replicas until then)', () => {
    const members = [node(h1, primary()), node(h2, replicaOf(h1)), node(h3, replicaOf(h1)), node(h4, replicaOf(h1))];
    const plan = planSwitchover(spec([h1, h2, h3, h4], 2), members, ['h1', 'h2', 'h3', 'h4'], activity({ h2: 0, h3: 0, h4: 0 }), opts) as SwitchoverPlan;
    expect(plan.cascadeEarly).toBe(false);
    expect(plan.sync).toBe('FIRST 2 ("h1", "h3", "h4")');
    expect(steps(plan, 'prepare').filter((s) => s.endsWith('cascade'))).toEqual([]);
    expect(steps(plan, 'stop')).toEqual(['h1: switchover: stop', 'h3: switchover: cascade', 'h4: switchover: cascade']);
    expect(plan.message).toContain('h3, h4 stream from h2 (inside the pause)');
  });

  test.each([
    ['a lagging target', { ...opts, target: 'h3', maxLagBytes: 10 }, activity({ h2: 0, h3: 100 }), 'h3 lags 100 bytes behind h1 (--max-lag is 10 bytes)'],
    ['an unknown target', { ...opts, target: 'h9' }, activity({ h2: 0, h3: 0 }), 'h9 is not a member of cluster main (members: h1, h2, h3)'],
    ['the primary itself', { ...opts, target: 'h1' }, activity({ h2: 0, h3: 0 }), 'h1 is already the primary'],
    [
      'an old transaction on the primary',
      opts,
      activity({ h2: 0, h3: 0 }, { oldestXactSeconds: 20 }),
      'a transaction on h1 has been open 20.0 s (--max-tx-age is 15 s; --force to go on)',
    ],
  ])('refused, nothing planned: %s', (_, o, a, refusal) => {
    const members = [node(h1, primary()), node(h2, replicaOf(h1)), node(h3, replicaOf(h1))];
    expect(planSwitchover(spec([h1, h2, h3]), members, ['h1', 'h2', 'h3'], a, o)).toEqual({ refusal });
  });

  test('refused with every problem at once: a member unreachable and no primary running', () => {
    const members = [node(h1, nodeFacts('PRIMARY', { running: false })), node(h2, replicaOf(h1)), node(h3)];
    expect(planSwitchover(spec([h1, h2, h3]), members, [], undefined, opts)).toEqual({
      refusal: 'h3 is unreachable; no single running primary (h1 stopped); use failover',
    });
  });
});
