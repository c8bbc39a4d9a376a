import { describe, expect, test } from 'vitest';
import { syncFile, syncRole, syncSetting } from '../../../roles/sync.js';
import { nodeFacts } from '../helpers/node-facts.js';
import { clusterFixture, filesAsWanted, fixtureView, member, planned, plannedAll, type ReadAnswer } from '../helpers/role-fixture.js';

const SYNC = '/etc/postgresql/15/main/sync.conf';
const members = ['h1', 'h3', 'h2', 'h4'].map((h) => member(h));
const facts = { h1: nodeFacts('PRIMARY'), h2: nodeFacts('REPLICA'), h3: nodeFacts('REPLICA'), h4: nodeFacts('REPLICA') };
/** sync.conf exists with other content (the stat's checksum differs). */
const syncConfDiffers: ReadAnswer = { match: /^for f in .*stat -c/s, result: { stdout: `S ${SYNC} postgres postgres 644\nH ${'0'.repeat(64)}  ${SYNC}` } };

describe('sync role: synchronous_standby_names', () => {
  test('the primary: FIRST n over every replica, in inventory order (not name order), a reload notified', async () => {
    const cc = clusterFixture({ members, facts, syncReplicas: 2 });
    expect(cc.plan.syncCandidates).toEqual(['h3', 'h2', 'h4']);
    const file = syncFile(15, 'main', 'FIRST 2 ("h3", "h2", "h4")', 2);
    expect(file).toEqual({
      path: SYNC,
      owner: 'postgres',
      group: 'postgres',
      mode: '0644',
      content: `# Managed by pgtasks: pg_sync_replicas = 2.\nsynchronous_standby_names = 'FIRST 2 ("h3", "h2", "h4")'\n`,
    });
    const view = fixtureView({ host: 'h1', reads: [syncConfDiffers] });
    const plans = await plannedAll(syncRole(cc, 'h1'), view);
    expect(plans.sync).toEqual({
      kind: 'change',
      summary: SYNC,
      actions: [
        { kind: 'put', ...file },
        { kind: 'notify', handler: 'postgresql-reload' },
      ],
    });
    // The service step that follows reloads (fresh facts: no look at the pid file).
    expect(plans.service).toMatchObject({ kind: 'change', summary: 'reload configuration' });
  });

  test('a replica: an empty setting (a standby ignores it; promotion rewrites it)', async () => {
    const cc = clusterFixture({ members, facts, syncReplicas: 2 });
    const view = fixtureView({ host: 'h2', reads: [syncConfDiffers] });
    const plan = await planned(syncRole(cc, 'h2')[0]!, view);
    expect((plan.actions as { content: string }[])[0]!.content).toBe(`# Managed by pgtasks: no synchronous replicas here.\nsynchronous_standby_names = ''\n`);
  });

  test('already written: ok, and the service step has nothing to do', async () => {
    const cc = clusterFixture({ members, facts, syncReplicas: 1 });
    const file = syncFile(15, 'main', syncSetting(cc.plan.syncCandidates, 1), 1);
    expect(file.content).toContain(`'FIRST 1 ("h3", "h2", "h4")'`);
    const view = fixtureView({ host: 'h1', reads: [filesAsWanted([file])] });
    expect(await plannedAll(syncRole(cc, 'h1'), view)).toEqual({
      sync: { kind: 'ok', reason: '1 file(s) up to date' },
      service: { kind: 'ok', reason: 'running' },
    });
    expect(view.readsMade).toHaveLength(1);
  });

  test('pg_sync_replicas: 0, or no replica: empty everywhere; more than there are: capped', () => {
    const none = clusterFixture({ members, facts, syncReplicas: 0 });
    expect(none.plan.syncCandidates).toEqual([]);
    expect(syncSetting(none.plan.syncCandidates, 0)).toBe('');
    expect(syncSetting([], 2)).toBe('');
    expect(syncSetting(['h2', 'h3'], 5)).toBe('FIRST 2 ("h2", "h3")');
  });

  test('absent members are no candidates', () => {
    const cc = clusterFixture({
      members: [members[0]!, member('h3', { pg_state: 'absent' }), members[2]!],
      facts: { h1: facts.h1, h3: facts.h3, h2: facts.h2 },
      syncReplicas: 1,
    });
    expect(cc.plan.syncCandidates).toEqual(['h2']);
  });
});
