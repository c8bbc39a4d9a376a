import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseInfoJson } from '../../src/backup/pgbackrest-info.js';
import { planRestore, type RestorePlan, type RestorePlanInput } from '../../src/backup/restore-plan.js';
import type { MemberFacts } from '../../src/cluster/plan.js';
import { pgVarsSchema, type ClusterSpec } from '../../src/cluster/vars.js';
import type { NodeState, PgNodeFacts } from '../../src/facts/postgres.js';
import { nodeFacts } from './helpers/node-facts.js';

// Real pgBackRest 2.45 output (stanza demo, PostgreSQL 15, system identifier 7712126043246296079): backups
// ending 2026-11-25 15:10:25Z (0/6000100) .. 15:14:07Z (0/10000100).
const fixture = (name: string) => readFileSync(join(import.meta.dirname, '../fixtures/pgbackrest', name), 'utf8');
const [stanza] = parseInfoJson(fixture('info-backups.json'));
const SYSID = '7712126043246296079';
const backup = { provider: 'pgbackrest', repo_host: 'h4' };

function spec(name: string, hosts: string[], vars: Record<string, unknown> = { pg_backup: backup }): ClusterSpec {
  const members = hosts.map((host) => ({ host, address: `10.0.0.${host.slice(1)}`, vars: pgVarsSchema.parse({ pg_cluster: name, ...vars }) }));
  const first = members[0]!.vars;
  return {
    name,
    members,
    port: 5432,
    syncReplicas: 0,
    credentialsDir: '/srv/creds',
    backup: first.pg_backup && { ...first.pg_backup, repoAddress: '10.0.0.4' },
  };
}
const demo = spec('demo', ['h1', 'h2', 'h3']);
const rehearsal = spec('rehearsal', ['h5', 'h6']);
const facts = (s: ClusterSpec, states: Record<string, NodeState | Partial<PgNodeFacts>>): MemberFacts[] =>
  s.members.map((member) => {
    const st = states[member.host] ?? 'EMPTY';
    const f = typeof st === 'string' ? nodeFacts(st, { cluster: s.name }) : nodeFacts(st.state ?? 'EMPTY', { cluster: s.name, ...st });
    return { member, facts: { ...f, systemIdentifier: f.systemIdentifier && SYSID } };
  });
const now = new Date('2026-11-25T16:00:00Z');
const at = { kind: 'time', time: new Date('2026-11-25T15:12:00Z') } as const;
const end = { time: new Date('2026-11-25T15:59:00Z'), lsn: '0/12000000', segment: '000000010000000000000011' };
const base = (o: Partial<RestorePlanInput>): RestorePlanInput => ({
  source: demo,
  into: rehearsal,
  facts: facts(rehearsal, {}),
  stanza,
  target: at,
  archiveEnd: end,
  yes: false,
  now,
  ...o,
});
const refusal = (o: Partial<RestorePlanInput>) => {
  const d = planRestore(base(o));
  return 'refusal' in d ? d.refusal : `planned: ${d.message}`;
};

describe('restore-cluster --into NEW', () => {
  test("NEW's pg_primary (else its first member) restores from the source's stanza into a side directory, with a grant for NEW's certificate", () => {
    const p = planRestore(base({})) as RestorePlan;
    expect(p.inPlace).toBe(false);
    expect(p.cluster.name).toBe('rehearsal');
    expect(p.host.host).toBe('h5');
    expect(p.dataDir).toBe('/var/lib/postgresql/15/rehearsal');
    expect(p.side).toBe('/var/lib/postgresql/15/rehearsal.pgtasks-restore');
    expect(p.args).toEqual([
      '--stanza=demo',
      '--pg1-path=/var/lib/postgresql/15/rehearsal.pgtasks-restore',
      '--type=time',
      '--target=2026-11-25 15:12:00.000+00',
      '--target-action=promote',
      '--recovery-option=restore_command=pgbackrest --stanza=demo --pg1-path=/var/lib/postgresql/15/rehearsal archive-get %f "%p"',
      'restore',
    ]);
    expect(p.grant).toEqual({ clientCn: 'pgtasks-rehearsal', stanzas: ['demo'] });
    expect(p.aside).toEqual([]);
    expect(p.backup.label).toBe('20261125-151022F_20261125-151031I');
    expect(p.message).toBe(
      "restore demo into cluster rehearsal to time 2026-11-25 15:12:00.000+00, from backup 20261125-151022F_20261125-151031I (incr, ended 2026-11-25T15:10:32.000Z) on h5; demo is not touched; then rehearsal's replicas, PgBouncer and stanza are built",
    );
    const hinted = spec('rehearsal', ['h5', 'h6'], { pg_backup: backup });
    hinted.members[1]!.vars.pg_primary = true;
    expect((planRestore(base({ into: hinted, facts: facts(hinted, {}) })) as RestorePlan).host.host).toBe('h6');
  });

  test("refused when NEW's hosts hold data, are unreachable, or NEW is the source or has no way to the repository", () => {
    expect(refusal({ facts: facts(rehearsal, { h6: 'REPLICA' }) })).toBe(
      "cluster rehearsal's hosts hold data (h6 holds a replica's data (system identifier 7712126043246296079, running)): a restore --into needs empty hosts; pick another cluster, or move that data aside yourself; nothing was changed",
    );
    expect(
      refusal({
        facts: facts(rehearsal, {
          h5: { state: 'UNKNOWN', detail: 'data directory /var/lib/postgresql/15/rehearsal is not empty but holds no PostgreSQL cluster' },
        }),
      }),
    ).toMatch(/^cluster rehearsal's hosts hold data \(h5: data directory .* holds no PostgreSQL cluster\)/);
    expect(refusal({ facts: [{ member: rehearsal.members[0]!, unreachable: 'unreachable' }, facts(rehearsal, {})[1]!] })).toBe(
      'h5: unreachable; nothing was changed',
    );
    expect(refusal({ into: demo, facts: facts(demo, {}) })).toMatch(/^--into demo is the source cluster itself: restore it with --in-place --yes/);
    expect(refusal({ into: spec('rehearsal', ['h5'], {}) })).toMatch(/^cluster rehearsal has no pg_backup: give it one on h4/);
    expect(refusal({ into: spec('rehearsal', ['h5'], { pg_backup: { ...backup, repo_host: 'h9' } }) })).toMatch(/backs up to h9, demo to h4/);
    expect(refusal({ source: spec('demo', ['h1'], {}) })).toMatch(/^cluster demo has no pg_backup/);
  });

  test('refused when the repository cannot be read, or the target is outside the span; a deactivated host counts as empty', () => {
    expect(refusal({ stanza: undefined, stanzaError: 'h4 unreachable: connect ETIMEDOUT' })).toBe(
      'repository host h4: h4 unreachable: connect ETIMEDOUT; nothing was changed',
    );
    expect(refusal({ target: { kind: 'time', time: new Date('2026-11-25T15:59:01Z') } })).toBe(
      'cluster demo: time 2026-11-25 15:59:01.000+00 is after the latest archived WAL (segment 000000010000000000000011, archived after a WAL switch at 2026-11-25T15:59:00Z); nothing was changed',
    );
    expect(refusal({ target: { kind: 'time', time: new Date('2026-11-25T15:00:00Z') } })).toMatch(/^cluster demo: time .* is before the earliest backup/);
    expect(refusal({ facts: facts(rehearsal, { h5: 'DEACTIVATED' }) })).toMatch(/^planned: /);
    expect(refusal({ facts: facts(rehearsal, { h5: { state: 'EMPTY', version: 16 } }) })).toBe(
      'stanza demo holds PostgreSQL 15 backups but cluster rehearsal runs 16: set pg_version: 15; nothing was changed',
    );
  });

  test('an LSN target older than the newest backup names its set', () => {
    const p = planRestore(base({ target: { kind: 'lsn', lsn: '0/A000000' } })) as RestorePlan;
    expect(p.args).toContain('--set=20261125-151022F_20261125-151028D');
    expect(p.notes[0]).toMatch(/--set=20261125-151022F_20261125-151028D/);
    expect((planRestore(base({ target: { kind: 'latest' } })) as RestorePlan).args).toEqual([
      '--stanza=demo',
      '--pg1-path=/var/lib/postgresql/15/rehearsal.pgtasks-restore',
      '--recovery-option=restore_command=pgbackrest --stanza=demo --pg1-path=/var/lib/postgresql/15/rehearsal archive-get %f "%p"',
      'restore',
    ]);
  });
});

describe('restore-cluster --in-place', () => {
  const inPlace = (states: Record<string, NodeState | Partial<PgNodeFacts>>, o: Partial<RestorePlanInput> = {}) =>
    planRestore(base({ into: undefined, facts: facts(demo, states), yes: true, ...o }));

  test('without --yes: refused', () => {
    expect(refusal({ into: undefined, facts: facts(demo, { h1: 'PRIMARY' }) })).toMatch(
      /^restore-cluster --in-place stops every member of demo, .*: add --yes; nothing was changed$/,
    );
  });

  test('the primary restores; every member holding data is set aside with the same timestamp (never deleted)', () => {
    const p = inPlace({ h1: 'REPLICA', h2: 'PRIMARY', h3: 'REPLICA' }) as RestorePlan;
    expect(p.host.host).toBe('h2');
    expect(p.grant).toBeUndefined();
    expect(p.aside).toEqual(
      ['h1', 'h2', 'h3'].map((host) => ({
        host,
        from: '/var/lib/postgresql/15/demo',
        to: '/var/lib/postgresql/15/demo.before-restore-20261125T160000',
        wasRunning: true,
      })),
    );
    expect(p.args[1]).toBe('--pg1-path=/var/lib/postgresql/15/demo.pgtasks-restore');
  });

  test("the primary's data directory wiped: no primary left, so pg_primary (else the first member) restores; the empty one is not set aside", () => {
    const p = inPlace(
      { h1: 'EMPTY', h2: 'REPLICA', h3: { state: 'REPLICA', running: false } },
      { archiveEnd: undefined, target: { kind: 'latest' } },
    ) as RestorePlan;
    expect(p.host.host).toBe('h1');
    expect(p.aside.map((a) => [a.host, a.wasRunning])).toEqual([
      ['h2', true],
      ['h3', false],
    ]);
    expect(p.message).toMatch(
      /^restore demo in place to the end of the archive \(latest\), .* on h1; data directories renamed to .*demo\.before-restore-20261125T160000 on h2, h3; then the replicas are rebuilt$/,
    );
  });

  test('a stopped primary still restores on its own host; unreachable members refuse (they could not be stopped)', () => {
    expect((inPlace({ h1: 'REPLICA', h3: { state: 'PRIMARY', running: false } }) as RestorePlan).host.host).toBe('h3');
    expect(
      'refusal' in
        planRestore(
          base({
            into: undefined,
            yes: true,
            facts: [...facts(demo, { h1: 'PRIMARY' }).slice(0, 2), { member: demo.members[2]!, unreachable: 'unreachable' }],
          }),
        ),
    ).toBe(true);
  });
});
