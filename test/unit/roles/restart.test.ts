import { describe, expect, test } from 'vitest';
import { restartStep } from '../../../roles/restart.js';
import { decideRestarts, type HostRestartState } from '../../../src/cluster/restart-order.js';
import { Run } from '../../../src/engine/run.js';
import { nodeFacts } from '../helpers/node-facts.js';
import { clusterFixture, fixtureView, member, planned } from '../helpers/role-fixture.js';

const [h1, h2, h3] = [member('h1'), member('h2'), member('h3', { pg_pgbouncer: false })];
const cc = clusterFixture({
  members: [h1, h2, h3],
  facts: { h1: nodeFacts('PRIMARY'), h2: nodeFacts('REPLICA', { upstream: '10.0.0.1' }), h3: nodeFacts('REPLICA', { upstream: '10.0.0.1' }) },
});
// The plan never touches the run: it is only used by the primary's call, when it runs.
const run = new Run(
  async () => ({ sources: [], groups: new Map(), hosts: new Map() }),
  { check: false, diff: false, verbose: false, forks: 1, json: false },
  { emit: () => {} },
  async () => {
    throw new Error('no connection in a plan fixture');
  },
);

/** max_connections raised on every member: replicas first (a standby needs at least the primary's value), then the primary. */
const states: HostRestartState[] = ['h1', 'h2', 'h3'].map((host) => ({
  host,
  current: { max_connections: 100 },
  changes: [{ name: 'max_connections', from: '100', to: '200' }],
}));
const decision = decideRestarts('h1', states);

describe('restart step: {decision} -> actions', () => {
  test('the decision: replicas first when a value goes up', () => {
    expect(decision.problems).toEqual([]);
    expect(decision.order.map((o) => `${o.host}:${o.role}`)).toEqual(['h2:replica', 'h3:replica', 'h1:primary']);
  });

  test('a replica: restart (put the previous files back if it does not come up), then wait until it streams', async () => {
    const item = decision.order.find((o) => o.host === 'h2')!;
    const view = fixtureView({ host: 'h2' });
    expect(await planned(restartStep(run, cc, item, decision), view)).toEqual({
      kind: 'change',
      summary: `max_connections 100 -> 200 (${decision.reason})`,
      actions: [
        { kind: 'call', what: 'restart PostgreSQL fast for max_connections; if it does not come back, put the previous files back and start it' },
        { kind: 'call', what: 'wait until it streams again' },
      ],
    });
    expect(view.readsMade).toEqual([]);
  });

  test('the primary: CHECKPOINT first (a short shutdown checkpoint), then the restart inside a bounded PgBouncer pause of the members that have one', async () => {
    const item = decision.order.find((o) => o.host === 'h1')!;
    expect(await planned(restartStep(run, cc, item, decision), fixtureView({ host: 'h1' }))).toEqual({
      kind: 'change',
      summary: `max_connections 100 -> 200 (${decision.reason})`,
      actions: [
        { kind: 'sql', port: 5432, db: 'postgres', sql: 'CHECKPOINT;' },
        { kind: 'call', what: 'pause PgBouncer on h1, h2 (at most 5000 ms), restart, resume' },
      ],
    });
  });

  test('the primary without any PgBouncer: said so', async () => {
    const bare = clusterFixture({
      members: [member('h1', { pg_pgbouncer: false })],
      facts: { h1: nodeFacts('PRIMARY') },
    });
    const only = decideRestarts('h1', [{ host: 'h1', current: {}, changes: [{ name: 'shared_buffers', from: '128MB', to: '256MB' }] }]);
    const plan = await planned(restartStep(run, bare, only.order[0]!, only), fixtureView({ host: 'h1' }));
    expect((plan.actions as { what?: string }[])[1]!.what).toBe('pause PgBouncer on no host (at most 5000 ms), restart, resume');
    expect(plan.summary).toMatch(/^shared_buffers 128MB -> 256MB \(/);
  });
});
