import { describe, expect, test } from 'vitest';
import { planCluster, PlanRefused, type MemberFacts } from '../../src/cluster/plan.js';
import { pgVarsSchema, type ClusterSpec, type Member } from '../../src/cluster/vars.js';
import type { PgNodeFacts } from '../../src/facts/postgres.js';
import { nodeFacts } from './helpers/node-facts.js';

function member(host: string, extra: Record<string, unknown> = {}): Member {
  return { host, address: `10.0.0.${host.slice(1)}`, vars: pgVarsSchema.parse({ pg_cluster: 'main', ...extra }) };
}

// Facts of a healthy member in `state` (cluster 'main', PostgreSQL 15): the shared fixture.
const facts = nodeFacts;

function spec(members: Member[], sync = 0): ClusterSpec {
  return { name: 'main', members, port: 5432, syncReplicas: sync, credentialsDir: './credentials' };
}

const node = (m: Member, f?: PgNodeFacts, unreachable?: string): MemberFacts => ({ member: m, facts: f, unreachable });

describe('planning a cluster from facts', () => {
  const [h1, h2, h3] = [member('h1'), member('h2'), member('h3')];

  test('a new cluster bootstraps the first host, others are cloned; every replica is a sync candidate', () => {
    const plan = planCluster(spec([h1, h2, h3], 1), [node(h1, facts('EMPTY')), node(h2, facts('EMPTY')), node(h3, facts('EMPTY'))]);
    expect(plan.primary.host).toBe('h1');
    expect(plan.primaryAction).toBe('bootstrap');
    expect(plan.replicas.map((r) => [r.member.host, r.action])).toEqual([
      ['h2', 'clone'],
      ['h3', 'clone'],
    ]);
    expect(plan.syncCandidates).toEqual(['h2', 'h3']);
  });

  test('pg_primary picks the bootstrap host', () => {
    const h2p = member('h2', { pg_primary: true });
    const plan = planCluster(spec([h1, h2p]), [node(h1, facts('EMPTY')), node(h2p, facts('EMPTY'))]);
    expect(plan.primary.host).toBe('h2');
  });

  test('the existing primary stays primary whatever pg_primary says; a new host becomes a replica', () => {
    const h1p = member('h1', { pg_primary: true });
    const plan = planCluster(spec([h1p, h2, h3]), [node(h1p, facts('REPLICA')), node(h2, facts('PRIMARY')), node(h3, facts('EMPTY'))]);
    expect(plan.primary.host).toBe('h2');
    expect(plan.primaryAction).toBe('keep');
    expect(plan.replicas.map((r) => [r.member.host, r.action])).toEqual([
      ['h1', 'keep'],
      ['h3', 'clone'],
    ]);
    expect(plan.notes.join()).toMatch(/pg_primary names h1/);
  });

  test('with no primary left, the most advanced replica is promoted', () => {
    const plan = planCluster(spec([h1, h2, h3]), [
      node(h1, facts('EMPTY')),
      node(h2, facts('REPLICA', { lsn: '0/5000000' })),
      node(h3, facts('REPLICA', { lsn: '0/5000100' })),
    ]);
    expect(plan.primary.host).toBe('h3');
    expect(plan.primaryAction).toBe('promote');
    expect(plan.replicas.map((r) => [r.member.host, r.action])).toEqual([
      ['h1', 'clone'],
      ['h2', 'keep'],
    ]);
  });

  test('a higher timeline wins over a higher LSN', () => {
    const plan = planCluster(spec([h2, h3]), [
      node(h2, facts('REPLICA', { timeline: 3, lsn: '0/1' })),
      node(h3, facts('REPLICA', { timeline: 2, lsn: '1/0' })),
    ]);
    expect(plan.primary.host).toBe('h2');
  });

  const refused = (fn: () => unknown, pattern: RegExp) => {
    expect(fn).toThrow(PlanRefused);
    expect(fn).toThrow(pattern);
  };

  test('refuses on an unreachable member, two primaries, unknown data, foreign clusters', () => {
    refused(() => planCluster(spec([h1, h2]), [node(h1, facts('PRIMARY')), node(h2, undefined, 'unreachable')]), /h2 is unreachable.*nothing was changed/);
    refused(
      () => planCluster(spec([h1, h2]), [node(h1, facts('PRIMARY')), node(h2, facts('PRIMARY', { running: false }))]),
      /split brain: h1 \(running\) and h2 \(stopped\)/,
    );
    refused(() => planCluster(spec([h1, h2]), [node(h1, facts('PRIMARY')), node(h2, facts('UNKNOWN', { detail: 'not empty' }))]), /h2: not empty/);
    refused(
      () => planCluster(spec([h1, h2]), [node(h1, facts('PRIMARY')), node(h2, facts('REPLICA', { systemIdentifier: '9' }))]),
      /members hold different clusters' data \(system identifiers h1=7000, h2=9\)/,
    );
    // Two members agree: the third holds another cluster's data (a running primary of its own is no split brain).
    refused(
      () => planCluster(spec([h1, h2, h3]), [node(h1, facts('PRIMARY', { systemIdentifier: '9' })), node(h2, facts('PRIMARY')), node(h3, facts('REPLICA'))]),
      /^cluster main: h1 holds another cluster's data \(system identifier 9, not 7000\)/,
    );
    refused(
      () => planCluster(spec([h1, h2]), [node(h1, facts('PRIMARY')), node(h2, facts('REPLICA', { timeline: 2 }))]),
      /holds WAL of timeline 2, later than primary h1/,
    );
  });

  test('pg_state: absent deactivates a replica and refuses on the primary', () => {
    const h3a = member('h3', { pg_state: 'absent' });
    const plan = planCluster(spec([h1, h2, h3a]), [node(h1, facts('PRIMARY')), node(h2, facts('REPLICA')), node(h3a, facts('REPLICA'))]);
    expect(plan.deactivate.map((m) => m.host)).toEqual(['h3']);
    expect(plan.replicas.map((r) => r.member.host)).toEqual(['h2']);
    const h1a = member('h1', { pg_state: 'absent' });
    refused(() => planCluster(spec([h1a, h2]), [node(h1a, facts('PRIMARY')), node(h2, facts('REPLICA'))]), /move the primary away first/);
  });

  test('a deactivated member that is present again is rebuilt as a replica', () => {
    const plan = planCluster(spec([h1, h2]), [node(h1, facts('PRIMARY')), node(h2, facts('DEACTIVATED'))]);
    expect(plan.replicas).toEqual([{ member: h2, action: 'clone' }]);
  });

  test('a replica whose WAL went past the fork of the primary timeline is marked diverged, with why', () => {
    const history = '1\t0/3000000\tno recovery target specified';
    const primary = facts('PRIMARY', { timeline: 2, lsn: '0/5000000', history });
    const behind = facts('REPLICA', { timeline: 1, lsn: '0/2FFFFFF', running: false });
    const past = facts('REPLICA', { timeline: 1, lsn: '0/3800000', running: false });
    const plan = planCluster(spec([h1, h2, h3], 1), [node(h1, primary), node(h2, behind), node(h3, past)]);
    expect(plan.replicas.map((r) => [r.member.host, r.action])).toEqual([
      ['h2', 'keep'],
      ['h3', 'diverged'],
    ]);
    expect(plan.replicas[1]!.reason).toMatch(/forked off timeline 1 at 0\/3000000, before this replica's position 0\/3800000/);
  });

  test('a streaming replica read a moment after its primary is never "ahead" of it', () => {
    const primary = facts('PRIMARY', { lsn: '0/3000000' });
    const streaming = facts('REPLICA', { lsn: '0/3000100', walReceiverStatus: 'streaming', upstream: h1.address });
    const plan = planCluster(spec([h1, h2]), [node(h1, primary), node(h2, streaming)]);
    expect(plan.replicas.map((r) => r.action)).toEqual(['keep']);
    const cascading = facts('REPLICA', { lsn: '0/3000100', walReceiverStatus: 'streaming', upstream: h3.address });
    expect(planCluster(spec([h1, h2]), [node(h1, primary), node(h2, cascading)]).replicas.map((r) => r.action)).toEqual(['keep']);
    const stopped = facts('REPLICA', { lsn: '0/3000100', running: false });
    expect(planCluster(spec([h1, h2]), [node(h1, primary), node(h2, stopped)]).replicas.map((r) => r.action)).toEqual(['diverged']);
  });

  test('no primary: the replica holding the most WAL is promoted; on a tie a running one beats a stopped one', () => {
    const oldPrimaryStopped = facts('REPLICA', { running: false, timeline: 3, lsn: '0/5000028' });
    const target = facts('REPLICA', { running: true, timeline: 3, lsn: '0/5000028' });
    const behind = facts('REPLICA', { running: true, timeline: 3, lsn: '0/4000000' });
    const plan = planCluster(spec([h1, h2, h3]), [node(h1, oldPrimaryStopped), node(h2, target), node(h3, behind)]);
    expect([plan.primaryAction, plan.primary.host]).toEqual(['promote', 'h2']);
  });

  test('a replica holding WAL of a later timeline than the primary: refused (the primary is the stale one)', () => {
    refused(
      () => planCluster(spec([h1, h2]), [node(h1, facts('PRIMARY', { running: false })), node(h2, facts('REPLICA', { timeline: 2 }))]),
      /h2 holds WAL of timeline 2, later than primary h1/,
    );
  });
});
