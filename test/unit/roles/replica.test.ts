import { describe, expect, test } from 'vitest';
import { cloneStep, replicaRole, staleSlotsStep } from '../../../roles/replica.js';
import { nodeFacts } from '../helpers/node-facts.js';
import { clusterFixture, fixtureView, member, planned } from '../helpers/role-fixture.js';

const [h1, h2, h3] = [member('h1'), member('h2'), member('h3')];
const DATA = '/var/lib/postgresql/15/main';
const SIDE = `${DATA}.pgtasks-clone`;

describe('replica role: clone', () => {
  const cc = clusterFixture({ members: [h1, h2], facts: { h1: nodeFacts('PRIMARY'), h2: nodeFacts('EMPTY') } });

  test('an empty member: pg_basebackup through its slot into a side directory, moved in only if the data directory is still empty', async () => {
    const view = fixtureView({ host: 'h2' });
    const plan = await planned(cloneStep(cc, 'h2'), view);
    expect(plan).toMatchObject({ kind: 'change', summary: 'pg_basebackup from h1' });
    expect(view.readsMade).toEqual([]);
    const [prepare, clone, move] = plan.actions as { kind: string; command: string; user?: string; timeoutMs?: number; stdin?: string }[];
    expect(plan.actions).toHaveLength(3);

    // 1. Refuse a data directory with anything in it; a fresh side directory, postgres-owned, 0700.
    expect(prepare).toMatchObject({ kind: 'run' });
    expect(prepare!.user).toBeUndefined();
    expect(prepare!.command).toMatch(
      /^set -e\nif \[ -n "\$\(ls -A \/var\/lib\/postgresql\/15\/main 2>\/dev\/null\)" \]; then echo .*is not empty: refusing to clone over it/,
    );
    expect(prepare!.command).toContain(`rm -rf ${SIDE}\n`);
    expect(prepare!.command).toContain(`install -d -o postgres -g postgres -m 0700 ${SIDE}`);
    // The only rm -rf is of the side directory, never of the data directory.
    expect(prepare!.command.match(/rm -rf \S+/g)).toEqual([`rm -rf ${SIDE}`]);

    // 2. pg_basebackup as postgres, the password from the pgpass file, never in argv or on stdin.
    expect(clone).toMatchObject({ kind: 'run', user: 'postgres', timeoutMs: 6 * 60 * 60_000 });
    expect(clone!.stdin).toBeUndefined();
    expect(clone!.command).toContain(
      // pg_tls (default): over TLS, the primary verified against the cluster's CA.
      `PGPASSFILE=/etc/postgresql/15/main/pgpass PGSSLMODE=verify-full PGSSLROOTCERT=/etc/postgresql/15/main/root.crt /usr/lib/postgresql/15/bin/pg_basebackup -h 10.0.0.1 -p 5432 -U replicator -D ${SIDE} -X stream -S h2 -c fast -w`,
    );
    expect(clone!.command).toContain(`touch ${SIDE}/standby.signal`);
    expect(clone!.command).toContain(`rm -f ${SIDE}/postgresql.conf ${SIDE}/pg_hba.conf ${SIDE}/pg_ident.conf`);
    // Tagged for this run's lock holder (it stops a clone this run leaves behind).
    expect(clone!.command).toMatch(/^set -e\nexport PGTASKS_RUN=/);
    for (const a of plan.actions as { command: string }[]) {
      expect(a.command).not.toContain('repl-secret-pw');
      expect(a.command).not.toContain('admin-secret-pw');
      expect(a.command).not.toMatch(/password=/i);
    }

    // 3. Moved in only if nothing filled the data directory meanwhile.
    expect(move!.command).toMatch(
      /filled up during the clone: refusing to replace it[\s\S]*rmdir \/var\/lib\/postgresql\/15\/main 2>\/dev\/null \|\| true\nmv /,
    );
    expect(move!.command).toContain(`mv ${SIDE} ${DATA}`);
  });

  test('a replica that already holds data is never cloned again', async () => {
    const kept = clusterFixture({ members: [h1, h2], facts: { h1: nodeFacts('PRIMARY'), h2: nodeFacts('REPLICA', { upstream: '10.0.0.1' }) } });
    expect(await planned(cloneStep(kept, 'h2'), fixtureView({ host: 'h2' }))).toEqual({ kind: 'skip', reason: 'data directory exists' });
    // Nor is the primary.
    expect(await planned(cloneStep(kept, 'h1'), fixtureView({ host: 'h1' }))).toEqual({ kind: 'skip', reason: 'data directory exists' });
  });

  test('a slot name is the host name in identifier form', async () => {
    const odd = member('db-2.example');
    const c = clusterFixture({ members: [h1, odd], facts: { h1: nodeFacts('PRIMARY'), 'db-2.example': nodeFacts('EMPTY') } });
    const plan = await planned(cloneStep(c, 'db-2.example'), fixtureView({ host: 'db-2.example' }));
    expect((plan.actions as { command: string }[])[1]!.command).toContain(' -S db_2_example ');
  });

  test('replicaRole: config, clone, service, stale slots, in that order', () => {
    expect(replicaRole(cc, 'h2').map((s) => s.name)).toEqual(['config: directories', 'config: files', 'clone', 'service', 'stale slots']);
  });
});

describe('replica role: stale slots', () => {
  test("a former primary's inactive member slots are dropped; a slot of nobody is only warned about", async () => {
    const cc = clusterFixture({
      members: [h1, h2, h3],
      facts: {
        h1: nodeFacts('PRIMARY'),
        h2: nodeFacts('REPLICA', {
          slots: [
            { name: 'h3', active: false },
            { name: 'h1', active: false },
            { name: 'backup_tool', active: false },
          ],
        }),
        h3: nodeFacts('REPLICA'),
      },
    });
    const view = fixtureView({ host: 'h2' });
    expect(await planned(staleSlotsStep(cc, 'h2'), view)).toEqual({
      kind: 'change',
      summary: 'drop h3, h1 (left from when it was primary)',
      actions: [{ kind: 'sql', port: 5432, db: 'postgres', sql: "select pg_drop_replication_slot('h3');\nselect pg_drop_replication_slot('h1');" }],
    });
    // From the facts: no query.
    expect(view.readsMade).toEqual([]);
    expect(view.messages).toHaveLength(1);
    expect(view.messages[0]).toMatch(/replication slot backup_tool on h2 matches no host in the inventory.*pgtasks will not drop it/);
  });

  test('an active member slot (a replica still cascading from it) is kept; none left: ok', async () => {
    const cc = clusterFixture({
      members: [h1, h2, h3],
      facts: { h1: nodeFacts('PRIMARY'), h2: nodeFacts('REPLICA', { slots: [{ name: 'h3', active: true }] }), h3: nodeFacts('REPLICA') },
    });
    expect(await planned(staleSlotsStep(cc, 'h2'), fixtureView({ host: 'h2' }))).toEqual({ kind: 'ok' });
  });

  test('facts stale: the slots are read again, in a read-only transaction; in check mode a replica not running yet is skipped', async () => {
    const cc = clusterFixture({ members: [h1, h2], facts: { h1: nodeFacts('PRIMARY'), h2: nodeFacts('EMPTY') }, touched: ['h2'] });
    const view = fixtureView({
      host: 'h2',
      reads: [{ match: /^for psql in .*; PGOPTIONS='-c default_transaction_read_only=on' "\$psql" .*pg_replication_slots/s, result: { stdout: 'h1\tf\n' } }],
    });
    expect(await planned(staleSlotsStep(cc, 'h2'), view)).toMatchObject({ kind: 'change', summary: 'drop h1 (left from when it was primary)' });
    expect(view.readsMade).toHaveLength(1);
    expect(await planned(staleSlotsStep(cc, 'h2'), fixtureView({ host: 'h2', check: true }))).toEqual({ kind: 'skip', reason: 'not running yet' });
  });
});
