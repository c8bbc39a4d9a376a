import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { cloneStep } from '../../../roles/replica.js';
import type { ClusterContext } from '../../../src/cluster/cluster-context.js';
import { nodeFacts } from '../helpers/node-facts.js';
import { clusterFixture, fixtureView, member, planned } from '../helpers/role-fixture.js';

const DATA = '/var/lib/postgresql/15/main';
const SIDE = `${DATA}.pgtasks-clone`;
const BACKUP = { provider: 'pgbackrest', repo_host: 'b1' };
// Real `pgbackrest info --output=json` (test/fixtures/pgbackrest/), its stanza renamed to the fixture cluster's.
const info = (name: string) => readFileSync(new URL(`../../fixtures/pgbackrest/${name}`, import.meta.url), 'utf8').replace(/"name":"demo"/g, '"name":"main"');

function cluster(source: 'backup' | 'primary'): ClusterContext {
  const vars = { pg_backup: BACKUP, pg_replica_source: source };
  const [h1, h2] = [member('h1', vars), member('h2', vars)];
  const cc = clusterFixture({ members: [h1, h2], facts: { h1: nodeFacts('PRIMARY'), h2: nodeFacts('EMPTY') } });
  return { ...cc, spec: { ...cc.spec, backup: { ...h1.vars.pg_backup!, repoAddress: '10.0.0.99' } } };
}
const infoRead = (stdout: string, code = 0) => ({ match: /^pgbackrest --stanza=main --output=json info$/, result: { stdout, code } });

describe('clone with pg_replica_source: backup', () => {
  test('a backup in the repository: pgbackrest restore --type=standby into the side directory (as postgres, run tag, progress), renamed in like a clone', async () => {
    const view = fixtureView({ host: 'h2', reads: [infoRead(info('info-backups.json'))] });
    const plan = await planned(cloneStep(cluster('backup'), 'h2'), view);
    expect(plan.summary).toBe('pgbackrest restore --type=standby of backup 20261125-151022F_20261125-151406I from b1, then streams from h1');
    const [prepare, restore, move] = plan.actions as { command: string; user?: string; progress?: string; timeoutMs?: number }[];
    expect(plan.actions).toHaveLength(3);
    expect(prepare!.command).toMatch(/is not empty: refusing to clone over it/);
    expect(prepare!.command.match(/rm -rf \S+/g)).toEqual([`rm -rf ${SIDE}`]);
    expect(restore).toMatchObject({ kind: 'run', user: 'postgres', progress: 'pgbackrest', timeoutMs: 6 * 60 * 60_000 });
    expect(restore!.command).toMatch(/^set -e\nexport PGTASKS_RUN=/);
    expect(restore!.command).toContain(
      `pgbackrest --log-level-console=detail --stanza=main --pg1-path=${SIDE} --type=standby '--recovery-option=restore_command=pgbackrest --stanza=main --pg1-path=${DATA} archive-get %f "%p"' restore`,
    );
    expect(restore!.command).not.toContain('pg_basebackup');
    expect(restore!.command).toContain(`touch ${SIDE}/standby.signal`);
    expect(move!.command).toMatch(
      /filled up during the clone: refusing to replace it[\s\S]*mv \/var\/lib\/postgresql\/15\/main\.pgtasks-clone \/var\/lib\/postgresql\/15\/main$/,
    );
    expect(view.messages).toEqual([]);
  });

  test('no backup yet, or the repository unreadable: pg_basebackup from the primary (with --progress), and a message saying why', async () => {
    for (const [read, why] of [
      [infoRead(info('info-no-backups.json')), /no backup of PostgreSQL 15 yet/],
      [infoRead('', 1), /could not be read from here/],
      [infoRead('[]'), /no stanza main/],
    ] as const) {
      const view = fixtureView({ host: 'h2', reads: [read] });
      const plan = await planned(cloneStep(cluster('backup'), 'h2'), view);
      expect(plan.summary).toBe('pg_basebackup from h1');
      const clone = (plan.actions as { command: string; progress?: string }[])[1]!;
      expect(clone.command).toMatch(/pg_basebackup .* -S h2 -c fast -w --progress/);
      expect(clone.progress).toBe('pg_basebackup');
      expect(view.messages).toHaveLength(1);
      expect(view.messages[0]).toMatch(why);
      expect(view.messages[0]).toMatch(/cloning from the primary h1 instead$/);
    }
  });

  test('pg_replica_source: primary reads nothing of the repository', async () => {
    const view = fixtureView({ host: 'h2' });
    const plan = await planned(cloneStep(cluster('primary'), 'h2'), view);
    expect(plan.summary).toBe('pg_basebackup from h1');
    expect(view.readsMade).toEqual([]);
  });
});
