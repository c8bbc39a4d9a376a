import { describe, expect, test } from 'vitest';
import type { MemberFacts } from '../../src/cluster/plan.js';
import { planRejoin, type RejoinPlan } from '../../src/cluster/rejoin-plan.js';
import type { ClusterSpec, Member } from '../../src/cluster/vars.js';
import type { PgNodeFacts } from '../../src/facts/postgres.js';
import { nodeFacts } from './helpers/node-facts.js';
import { member } from './helpers/role-fixture.js';

/* rejoin's decision as data: {inventory, facts} -> refusal, or the steps before the converge (rejoin-choice decides which). */

const [h1, h2, h3] = [member('h1'), member('h2'), member('h3')];
const spec: ClusterSpec = { name: 'main', members: [h1, h2, h3], port: 5432, syncReplicas: 0, credentialsDir: '/c' };
const node = (m: Member, f?: PgNodeFacts): MemberFacts => ({ member: m, facts: f, unreachable: f ? undefined : 'unreachable' });
const now = new Date('2024-05-06T07:08:09.123Z');
/** h2 is the primary after a failover, h3 streams from it; h1 (the old primary) comes back. */
const cluster = (h1f: PgNodeFacts | undefined, h2f = nodeFacts('PRIMARY', { timeline: 2 })) => [
  node(h1, h1f),
  node(h2, h2f),
  node(h3, nodeFacts('REPLICA', { upstream: h2.address, walReceiverStatus: 'streaming', timeline: 2 })),
];
const oldPrimary = (running: boolean) => nodeFacts('PRIMARY', { running, lsn: '0/5000100' });
const plan = (h1f: PgNodeFacts | undefined, full = false, members = cluster(h1f)) => planRejoin(spec, members, 'h1', full, now);

describe('rejoin plan', () => {
  test('rewind: the new primary checkpoints, the old one is stopped, pg_rewound and marked standby; then the converge', () => {
    const p = plan(oldPrimary(true)) as RejoinPlan;
    expect([p.action, p.primary.host, p.aside, p.message]).toEqual([
      { kind: 'rewind' },
      'h2',
      undefined,
      'plan: stop h1, pg_rewind it from h2, start it as a replica',
    ]);
    expect(p.phases.map((x) => [x.stage, x.host, x.step])).toEqual([
      ['rewind: checkpoint', 'h2', 'rejoin: checkpoint'],
      ['rewind: stop', 'h1', 'rejoin: stop'],
      ['rewind', 'h1', 'rejoin: pg_rewind'],
    ]);
    // Stopped already (a crash): not stopped again.
    expect((plan(oldPrimary(false)) as RejoinPlan).phases.map((x) => x.step)).toEqual(['rejoin: checkpoint', 'rejoin: pg_rewind']);
  });

  test('--full: stopped, its data directory moved aside under a dated name (kept, never deleted), then cloned by the converge', () => {
    const p = plan(oldPrimary(true), true) as RejoinPlan;
    expect(p.action).toEqual({ kind: 'reclone', moveAside: true });
    expect(p.aside).toBe('/var/lib/postgresql/15/main.rejoin-20240506T070809');
    expect(p.phases).toEqual([
      { stage: 'stop', host: 'h1', step: 'rejoin: stop', summary: 'stopped' },
      {
        stage: 'set aside',
        host: 'h1',
        step: 'rejoin: set aside',
        summary: '/var/lib/postgresql/15/main kept as /var/lib/postgresql/15/main.rejoin-20240506T070809; cloning afresh',
      },
    ]);
    expect(p.message).toBe('plan: move /var/lib/postgresql/15/main aside and clone h1 from h2');
    expect((plan(oldPrimary(false), true) as RejoinPlan).phases.map((x) => x.step)).toEqual(['rejoin: set aside']);
  });

  test('nothing to move or rewind: an empty data directory is cloned by the converge; a replica that follows already only converges', () => {
    expect(plan(nodeFacts('EMPTY'))).toMatchObject({ action: { kind: 'reclone', moveAside: false }, phases: [] });
    const following = nodeFacts('REPLICA', { upstream: h2.address, walReceiverStatus: 'streaming', timeline: 2 });
    expect(plan(following)).toMatchObject({ action: { kind: 'converge' }, phases: [], message: 'plan: h1 already follows h2; converge only' });
  });

  test.each([
    ['unreachable', undefined, cluster(undefined), 'h1 is unreachable'],
    [
      'no running primary to rejoin',
      oldPrimary(false),
      cluster(oldPrimary(false), nodeFacts('PRIMARY', { running: false })),
      'no running primary among the other members to rejoin',
    ],
    [
      "another cluster's data",
      nodeFacts('PRIMARY', { systemIdentifier: '9999' }),
      cluster(nodeFacts('PRIMARY', { systemIdentifier: '9999' })),
      "h1 holds another cluster's data (system identifier 9999, h2 has 7000); it is not a former member: move that data directory aside yourself if it is not needed, or fix the inventory",
    ],
  ])('refused, nothing planned: %s', (_, h1f, members, refusal) => {
    expect(plan(h1f, false, members)).toEqual({ refusal });
    expect(plan(h1f, true, members)).toEqual({ refusal });
  });
});
