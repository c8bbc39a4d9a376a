import { nodeFacts } from './helpers/node-facts.js';
import { describe, expect, test } from 'vitest';
import type { MemberFacts } from '../../src/cluster/plan.js';
import { switchoverProblems, type PrimaryActivity } from '../../src/cluster/switchover-checks.js';
import { pgVarsSchema, type ClusterSpec } from '../../src/cluster/vars.js';
import type { NodeState, PgNodeFacts } from '../../src/facts/postgres.js';

const member = (host: string) => ({ host, address: `10.0.0.${host.slice(1)}`, vars: pgVarsSchema.parse({ pg_cluster: 'c' }) });
const facts = (state: NodeState, running = true): PgNodeFacts =>
  nodeFacts(state, { cluster: 'c', configured: true, running, systemIdentifier: undefined, timeline: undefined, lsn: undefined });
const spec: ClusterSpec = { name: 'c', members: ['h1', 'h2', 'h3'].map(member), port: 5432, syncReplicas: 1, credentialsDir: '.' };
const healthy = (): MemberFacts[] => [
  { member: member('h1'), facts: facts('PRIMARY') },
  { member: member('h2'), facts: facts('REPLICA') },
  { member: member('h3'), facts: facts('REPLICA') },
];
const activity = (extra: Partial<PrimaryActivity> = {}): PrimaryActivity => ({
  lsn: '0/5000000',
  replicas: [
    { name: 'h2', state: 'streaming', lag: 0 },
    { name: 'h3', state: 'streaming', lag: 100 },
  ],
  oldestXactSeconds: null,
  ...extra,
});
const limits = { maxLagBytes: 16 * 1024 * 1024, maxTxAgeSeconds: 15, force: false };

describe('migrate-to-master prechecks', () => {
  test('a healthy switchover has no problem', () => {
    expect(switchoverProblems(spec, 'h2', healthy(), activity(), limits)).toEqual([]);
  });

  test.each([
    ['an unknown host', 'h9', healthy(), activity(), limits, /h9 is not a member of cluster c/],
    ['the primary itself', 'h1', healthy(), activity(), limits, /h1 is already the primary/],
    ['a lagging target', 'h3', healthy(), activity(), { ...limits, maxLagBytes: 10 }, /h3 lags 100 bytes behind h1/],
    ['a target not streaming', 'h2', healthy(), activity({ replicas: [] }), limits, /h2 is not streaming from h1/],
    ['an old transaction', 'h2', healthy(), activity({ oldestXactSeconds: 20 }), limits, /open 20\.0 s \(--max-tx-age is 15 s; --force/],
    ['an unreachable member', 'h2', [...healthy().slice(0, 2), { member: member('h3') }], activity(), limits, /h3 is unreachable/],
    [
      'no running primary',
      'h2',
      [{ member: member('h1'), facts: facts('PRIMARY', false) }, ...healthy().slice(1)],
      undefined,
      limits,
      /no single running primary \(h1 stopped\); use failover/,
    ],
  ])('refuses %s', (_, target, members, act, lim, pattern) => {
    expect(switchoverProblems(spec, target as string, members as MemberFacts[], act as PrimaryActivity | undefined, lim as typeof limits).join('; ')).toMatch(
      pattern as RegExp,
    );
  });

  test('--force accepts an old transaction', () => {
    expect(switchoverProblems(spec, 'h2', healthy(), activity({ oldestXactSeconds: 20 }), { ...limits, force: true })).toEqual([]);
  });
});
