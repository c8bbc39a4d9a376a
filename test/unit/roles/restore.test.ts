import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { bringUpSteps, RESET_RECOVERY_SQL, restoreStep } from '../../../roles/restore.js';
import { parseInfoJson } from '../../../src/backup/pgbackrest-info.js';
import { planRestore, type RestorePlan } from '../../../src/backup/restore-plan.js';
import { pgVarsSchema, type ClusterSpec } from '../../../src/cluster/vars.js';
import { fixtureView, plannedAll } from '../helpers/role-fixture.js';
import { nodeFacts } from '../helpers/node-facts.js';

// The restore's steps as data: a plan from real pgBackRest 2.45 info output, then what each step would run.
const [stanza] = parseInfoJson(readFileSync(join(import.meta.dirname, '../../fixtures/pgbackrest/info-backups.json'), 'utf8'));
const backup = { provider: 'pgbackrest', repo_host: 'h4' };
const spec = (name: string, hosts: string[]): ClusterSpec => {
  const members = hosts.map((host) => ({ host, address: `10.0.0.${host.slice(1)}`, vars: pgVarsSchema.parse({ pg_cluster: name, pg_backup: backup }) }));
  return { name, members, port: 5432, syncReplicas: 0, credentialsDir: '/srv/creds', backup: { ...members[0]!.vars.pg_backup!, repoAddress: '10.0.0.4' } };
};
const demo = spec('demo', ['h1', 'h2']);
const rehearsal = spec('rehearsal', ['h5']);
const plan = (into?: ClusterSpec) =>
  planRestore({
    source: demo,
    into,
    facts: (into ?? demo).members.map((member, i) => ({ member, facts: nodeFacts(into ? 'EMPTY' : i === 0 ? 'PRIMARY' : 'REPLICA') })),
    stanza,
    target: { kind: 'time', time: new Date('2026-11-25T15:12:00Z') },
    archiveEnd: { time: new Date('2026-11-25T16:00:00Z'), lsn: '0/20000000', segment: '000000010000000000000020' },
    yes: true,
    now: new Date('2026-11-25T16:00:00Z'),
  }) as RestorePlan;
const service = { version: 15, cluster: 'rehearsal', systemd: false };

describe('restore-cluster steps on the restore host', () => {
  test('--into: restore into the side directory (empty target checked, run tag, as postgres), rename in onto an empty directory, start and wait for the promotion, reset and restart', async () => {
    const p = plan(rehearsal);
    const steps = await plannedAll([restoreStep(p), ...bringUpSteps(p, service)], fixtureView({ host: 'h5' }));
    const [prepare, restore] = steps['restore: pgbackrest restore']!.actions as { command: string; user?: string; timeoutMs?: number }[];
    expect(prepare!.command).toMatch(
      /if \[ -n "\$\(ls -A \/var\/lib\/postgresql\/15\/rehearsal 2>\/dev\/null\)" \]; then echo .*refusing to restore over it.* exit 1; fi/,
    );
    expect(prepare!.command).toContain('rm -rf /var/lib/postgresql/15/rehearsal.pgtasks-restore');
    expect(restore).toMatchObject({ user: 'postgres', timeoutMs: 6 * 60 * 60_000, progress: 'pgbackrest' });
    expect(restore!.command).toMatch(/^set -e\nexport PGTASKS_RUN=/);
    expect(restore!.command).toContain(
      `pgbackrest --log-level-console=detail --stanza=demo --pg1-path=/var/lib/postgresql/15/rehearsal.pgtasks-restore --type=time '--target=2026-11-25 15:12:00.000+00' --target-action=promote '--recovery-option=restore_command=pgbackrest --stanza=demo --pg1-path=/var/lib/postgresql/15/rehearsal archive-get %f "%p"' restore`,
    );
    const rename = (steps['restore: rename in']!.actions as { command: string }[])[0]!.command;
    expect(rename).toContain('filled up during the restore: refusing to replace it');
    expect(rename).toMatch(/mv \/var\/lib\/postgresql\/15\/rehearsal\.pgtasks-restore \/var\/lib\/postgresql\/15\/rehearsal$/);
    expect(steps['restore: recover']!.actions).toEqual([
      expect.objectContaining({ kind: 'service', action: 'start', service: 'postgresql@15-rehearsal' }),
      { kind: 'call', what: 'wait until recovery reaches its target and PostgreSQL promotes (its log on failure)' },
    ]);
    expect(steps['restore: recovery settings']!.actions).toEqual([
      { kind: 'sql', port: 5432, db: 'postgres', sql: RESET_RECOVERY_SQL },
      expect.objectContaining({ kind: 'service', action: 'stop' }),
      expect.objectContaining({ kind: 'service', action: 'start' }),
    ]);
    expect(RESET_RECOVERY_SQL).toMatch(
      /^ALTER SYSTEM RESET restore_command;\n[\s\S]*ALTER SYSTEM RESET recovery_target_time;\n[\s\S]*select pg_reload_conf\(\);$/,
    );
  });

  test('--in-place: the old data directory goes aside (kept) in the same command that renames the copy in; no emptiness check before the restore', async () => {
    const p = plan();
    const steps = await plannedAll([restoreStep(p), ...bringUpSteps(p, { ...service, cluster: 'demo' })], fixtureView({ host: 'h1' }));
    expect((steps['restore: pgbackrest restore']!.actions as { command: string }[])[0]!.command).not.toContain('refusing to restore over it');
    const rename = (steps['restore: rename in']!.actions as { command: string }[])[0]!.command;
    expect(rename).toContain('mv /var/lib/postgresql/15/demo /var/lib/postgresql/15/demo.before-restore-20261125T160000');
    expect(rename).not.toContain('rm -rf /var/lib/postgresql/15/demo\n');
  });
});
