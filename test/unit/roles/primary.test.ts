import { describe, expect, test } from 'vitest';
import { bootstrapStep, promoteStep, rolesStep, slotsStep } from '../../../roles/primary.js';
import { scramVerifier } from '../../../src/cluster/scram.js';
import { nodeFacts } from '../helpers/node-facts.js';
import { clusterFixture, fixtureView, member, planned } from '../helpers/role-fixture.js';

const [h1, h2, h3] = [member('h1'), member('h2'), member('h3')];

describe('primary role: {vars, facts} -> actions', () => {
  test('a new cluster: initdb into a side directory, moved in only if the data directory is still empty', async () => {
    const cc = clusterFixture({ members: [h1, h2], facts: { h1: nodeFacts('EMPTY'), h2: nodeFacts('EMPTY') } });
    const plan = await planned(bootstrapStep(cc), fixtureView({ host: 'h1' }));
    expect(plan).toMatchObject({ kind: 'change', summary: 'initdb /var/lib/postgresql/15/main' });
    const [prepare, initdb, move] = plan.actions as { command: string; user?: string }[];
    expect(prepare!.command).toContain('is not empty: refusing to initdb over it');
    expect(initdb).toMatchObject({ user: 'postgres' });
    expect(initdb!.command).toContain('initdb -D /var/lib/postgresql/15/main.pgtasks-initdb --data-checksums');
    expect(move!.command).toMatch(/filled up during initdb[\s\S]*mv \/var\/lib\/postgresql\/15\/main.pgtasks-initdb \/var\/lib\/postgresql\/15\/main/);
  });

  test('an existing primary is never initdb-ed again', async () => {
    const cc = clusterFixture({ members: [h1, h2], facts: { h1: nodeFacts('PRIMARY'), h2: nodeFacts('REPLICA', { upstream: '10.0.0.1' }) } });
    expect(await planned(bootstrapStep(cc), fixtureView({ host: 'h1' }))).toEqual({ kind: 'skip', reason: 'data directory exists' });
    expect(await planned(promoteStep(cc), fixtureView({ host: 'h1' }))).toEqual({ kind: 'skip', reason: 'not needed' });
  });

  test('no primary left: the most advanced replica is promoted by SQL', async () => {
    const cc = clusterFixture({
      members: [h1, h2, h3],
      facts: { h1: nodeFacts('EMPTY'), h2: nodeFacts('REPLICA', { lsn: '0/5000000' }), h3: nodeFacts('REPLICA', { lsn: '0/5000100' }) },
    });
    expect(await planned(promoteStep(cc), fixtureView({ host: 'h3' }))).toEqual({
      kind: 'change',
      summary: 'promote h3 to primary (no primary left)',
      actions: [{ kind: 'sql', port: 5432, db: 'postgres', sql: 'select pg_promote(true, 60)' }],
    });
  });

  test('roles up to date (from the facts): no query, no change', async () => {
    const roles = [
      { name: 'admin', superuser: true, replication: false, verifier: scramVerifier('admin-secret-pw') },
      { name: 'replicator', superuser: false, replication: true, verifier: scramVerifier('repl-secret-pw') },
    ];
    const cc = clusterFixture({ members: [h1], facts: { h1: nodeFacts('PRIMARY', { roles }) } });
    const view = fixtureView({ host: 'h1' });
    expect(await planned(rolesStep(cc), view)).toEqual({ kind: 'ok', reason: 'admin, replicator up to date' });
    expect(view.readsMade).toEqual([]);
  });

  test('a changed replication password: one ALTER ROLE with a verifier, never the password, committed locally', async () => {
    const roles = [
      { name: 'admin', superuser: true, replication: false, verifier: scramVerifier('admin-secret-pw') },
      { name: 'replicator', superuser: false, replication: true, verifier: scramVerifier('an-old-password') },
    ];
    const cc = clusterFixture({ members: [h1], facts: { h1: nodeFacts('PRIMARY', { roles }) } });
    const plan = await planned(rolesStep(cc), fixtureView({ host: 'h1' }));
    expect(plan).toMatchObject({ kind: 'change', summary: 'set replicator password' });
    const [sql] = plan.actions as { sql: string; shown: string }[];
    expect(sql!.sql).toMatch(/^set synchronous_commit = local;\nALTER ROLE "replicator" PASSWORD 'SCRAM-SHA-256\$4096:/);
    expect(sql!.sql).not.toContain('repl-secret-pw');
    expect(sql!.shown).toContain("PASSWORD '********'");
    expect(sql!.shown).not.toContain('SCRAM-SHA-256');
  });

  test('slots: one per replica is created; a slot of a host no longer a replica is dropped when inactive', async () => {
    const cc = clusterFixture({
      members: [h1, h2, member('h3', { pg_state: 'absent' })],
      facts: {
        h1: nodeFacts('PRIMARY', {
          slots: [
            { name: 'h3', active: false },
            { name: 'orphan', active: false },
          ],
        }),
        h2: nodeFacts('REPLICA', { upstream: '10.0.0.1' }),
        h3: nodeFacts('EMPTY'),
      },
    });
    const view = fixtureView({ host: 'h1' });
    const plan = await planned(slotsStep(cc), view);
    expect(plan).toEqual({
      kind: 'change',
      summary: 'create slot h2; drop slot h3',
      actions: [{ kind: 'sql', port: 5432, db: 'postgres', sql: "select pg_create_physical_replication_slot('h2');\nselect pg_drop_replication_slot('h3');" }],
    });
    // A slot nobody in the inventory owns is never dropped: only warned about.
    expect(view.messages.join('\n')).toMatch(/replication slot orphan on h1 matches no host/);
  });
});
