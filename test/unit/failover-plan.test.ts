import { describe, expect, test } from 'vitest';
import { planFailover, type FailoverPlan } from '../../src/cluster/failover-plan.js';
import type { MemberFacts } from '../../src/cluster/plan.js';
import { rewindPhases } from '../../src/cluster/rejoin-plan.js';
import { stage } from '../../src/cluster/switchover-plan.js';
import type { ClusterSpec, Member } from '../../src/cluster/vars.js';
import type { PgNodeFacts } from '../../src/facts/postgres.js';
import { nodeFacts } from './helpers/node-facts.js';
import { member } from './helpers/role-fixture.js';

/* failover's decision as data: {inventory, facts} -> refusal, or whom to fence, promote, cascade and rewind, step by step. */

const [h1, h2, h3] = [member('h1'), member('h2'), member('h3')];
const spec: ClusterSpec = { name: 'main', members: [h1, h2, h3], port: 5432, syncReplicas: 1, credentialsDir: '/c' };
const node = (m: Member, f?: PgNodeFacts): MemberFacts => ({ member: m, facts: f, unreachable: f ? undefined : 'unreachable' });
/** A replica that lost its primary h1: running, its receiver gone. */
const orphan = (lsn: string, extra: Partial<PgNodeFacts> = {}) => nodeFacts('REPLICA', { upstream: h1.address, lsn, timeline: 1, ...extra });
const steps = (plan: FailoverPlan, name: string) => stage(plan.phases, name).map((p) => `${p.host}: ${p.step}`);

describe('failover plan', () => {
  test('the old primary unreachable: not fenced (it cannot be), named for rejoin; the most advanced replica promoted, the other cascades', () => {
    const plan = planFailover(spec, [node(h1), node(h2, orphan('0/5000000')), node(h3, orphan('0/5000100'))], ['h2', 'h3'], { force: false }) as FailoverPlan;
    expect([plan.target.host, plan.fence, plan.old?.host, plan.unreachable, plan.exclude]).toEqual(['h3', [], 'h1', ['h1'], ['h1']]);
    expect(plan.cascading.map((m) => m.host)).toEqual(['h2']);
    expect(plan.diverged).toEqual([]);
    expect(plan.bouncers).toEqual(['h2', 'h3']);
    expect(steps(plan, 'pause')).toEqual(['h2: failover: pause', 'h3: failover: pause']);
    expect(steps(plan, 'prepare')).toEqual(['h3: failover: prepare', 'h2: failover: cascade', 'h2: failover: PgBouncer ini', 'h3: failover: PgBouncer ini']);
    expect(steps(plan, 'promote')).toEqual(['h3: failover: promote']);
    expect(steps(plan, 'repoint')).toEqual(['h2: failover: repoint', 'h3: failover: repoint']);
    expect(steps(plan, 'resume')).toEqual(['h2: failover: resume', 'h3: failover: resume']);
    expect(plan.phases.filter((p) => p.stage.startsWith('rewind'))).toEqual([]);
    expect(plan.message).toBe(
      `plan: pause PgBouncer; prepare h3 (slots, synchronous_standby_names 'FIRST 1 ("h1", "h2")'), h2 stream from it; promote h3 (timeline 1, 0/5000100); repoint and resume PgBouncer; converge the others; h1 unreachable and cannot be fenced: make sure it is down`,
    );
  });

  test('the old primary reachable but stopped: fenced (marked standby, no stop), its PgBouncer left alone, excluded from the converge', () => {
    const stopped = nodeFacts('PRIMARY', { running: false });
    const plan = planFailover(spec, [node(h1, stopped), node(h2, orphan('0/5000000')), node(h3, orphan('0/5000000'))], ['h1', 'h2', 'h3'], {
      force: false,
    }) as FailoverPlan;
    expect([plan.target.host, plan.fence.map((m) => m.host), plan.unreachable, plan.exclude]).toEqual(['h2', ['h1'], [], ['h1']]);
    expect(plan.bouncers).toEqual(['h2', 'h3']);
    expect(plan.phases.filter((p) => p.host === 'h1')).toEqual([
      { stage: 'prepare', host: 'h1', step: 'failover: fence', summary: 'mark standby: never two primaries' },
    ]);
    expect(plan.message).toMatch(/^plan: pause PgBouncer; fence h1 \(stop, mark standby\); prepare h2/);
  });

  test('a running primary is refused without --force; with it, fenced: stopped (immediate) and marked standby', () => {
    const members = [node(h1, nodeFacts('PRIMARY')), node(h2, orphan('0/5000000')), node(h3, orphan('0/5000000'))];
    expect(planFailover(spec, members, [], { force: false })).toEqual({
      refusal: 'h1 is a running primary; use migrate-to-master (or --force to fail over anyway)',
    });
    const forced = planFailover(spec, members, [], { force: true }) as FailoverPlan;
    expect(forced.phases.find((p) => p.host === 'h1')).toMatchObject({
      step: 'failover: fence',
      summary: 'stop (immediate) and mark standby: never two primaries',
    });
  });

  test('--target behind the most advanced replica is refused: promoting it would lose transactions, so no replica is ever left ahead of the target', () => {
    const members = [node(h1), node(h2, orphan('0/5000000')), node(h3, orphan('0/5000100'))];
    expect(planFailover(spec, members, [], { target: 'h2', force: false })).toEqual({
      refusal: '--target h2 (timeline 1, 0/5000000) is behind h3 (timeline 1, 0/5000100): promoting it would lose transactions',
    });
    expect(planFailover(spec, [node(h1), node(h2), node(h3)], [], { force: false })).toEqual({ refusal: 'no running replica to promote' });
  });

  test('a replica to rewind: checkpoint on the new primary, then it is stopped and pg_rewound (a stopped one is not stopped again)', () => {
    expect(
      rewindPhases(
        'failover',
        [
          { host: 'h2', running: true },
          { host: 'h3', running: false },
        ],
        h1,
      ),
    ).toEqual([
      { stage: 'rewind: checkpoint', host: 'h1', step: 'failover: checkpoint', summary: "CHECKPOINT: pg_rewind reads h1's timeline from its control file" },
      { stage: 'rewind: stop', host: 'h2', step: 'failover: stop', summary: 'stopped (fast)' },
      { stage: 'rewind', host: 'h2', step: 'failover: pg_rewind', summary: 'rewound from h1 (pg_rewind), marked standby' },
      { stage: 'rewind', host: 'h3', step: 'failover: pg_rewind', summary: 'rewound from h1 (pg_rewind), marked standby' },
    ]);
  });
});
