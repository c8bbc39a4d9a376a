import { beforeAll, describe, expect, test } from 'vitest';
import { configFiles, configRole } from '../../roles/config.js';
import { pgbouncerFiles, pgbouncerRole } from '../../roles/pgbouncer.js';
import { rolesStep } from '../../roles/primary.js';
import { serviceRole } from '../../roles/service.js';
import { scramVerifier } from '../../src/cluster/scram.js';
import type { RunEvent } from '../../src/engine/events.js';
import { HostContext } from '../../src/engine/host-context.js';
import { Secrets } from '../../src/engine/secrets.js';
import { runSteps } from '../../src/engine/step.js';
import { sha256 } from '../../src/steps/files.js';
import { nodeFacts } from './helpers/node-facts.js';
import { RecordingConnection, type Recorded, type Responder } from './helpers/recording-connection.js';
import { clusterFixture, fixtureView, member } from './helpers/role-fixture.js';
import { bouncerTlsFiles, pgTlsFiles } from '../../roles/tls.js';

/*
 * Check mode end to end through the engine: real steps, a real HostContext, a connection that records
 * what an sshd would receive. A change is only described ("would run: ..."), handlers still report
 * what they would do, and the host receives read commands only. Secrets never reach an event, masked
 * or not: the run's Secrets is left empty on purpose, so a password that got printed would show as is.
 */

const CONF = '/etc/postgresql/15/main';
const SETTINGS_ROWS = [
  ['work_mem', 'integer', 'user', 'kB', '64', '2147483647', '', '4096', '4096', 'default', '', '4MB'],
  ['max_connections', 'integer', 'postmaster', '', '1', '262143', '', '100', '100', 'configuration file', `${CONF}/postgresql.conf`, '100'],
];
const VARS = { ansible_host: '10.0.0.2', ansible_user: 'deploy', ansible_become: true };
const OLD_VERIFIER = scramVerifier('an-old-app-password');
const NEW_VERIFIER = scramVerifier('app-secret-pw');
const SECRETS = ['admin-secret-pw', 'repl-secret-pw', 'app-secret-pw', 'an-old-app-password', 'SCRAM-SHA-256$'];

/** A host whose files are `files` (path -> content, owned and moded as wanted), answering the reads the steps make. */
function fakeHost(files: Map<string, { content: string; owner: string; mode: string }>, system: string): Responder {
  return (_host, command, stdin) => {
    if (/^for f in .*stat -c/s.test(command)) {
      const lines = [...files].flatMap(([path, f]) => [`S ${path} ${f.owner} ${f.owner} ${f.mode.replace(/^0/, '')}`, `H ${sha256(f.content)}  ${path}`]);
      return { stdout: lines.join('\n') };
    }
    if (/^for f in .*printf 'F%s/s.test(command)) return { stdout: [...files].map(([path, f]) => `F${path}\0${f.content}\0`).join('') };
    if (command.includes('@@pgtasks-fact:system')) return { stdout: `@@pgtasks-fact:system\n${system}\n` };
    if (/^for psql in .*; PGOPTIONS='-c default_transaction_read_only=on' "\$psql" /.test(command) && stdin?.startsWith('select name, vartype')) {
      return { stdout: SETTINGS_ROWS.map((r) => r.join('\t')).join('\n') };
    }
    return undefined;
  };
}

/** The commands a plan may send: the reads the steps declare, nothing else. */
const READS = [
  /^for f in .*stat -c 'S %n %U %G %a'/s,
  /^for f in .*printf 'F%s/s,
  /^echo '?@@pgtasks-fact:system/,
  /^for psql in .*; PGOPTIONS='-c default_transaction_read_only=on' "\$psql" -X /,
  /^p=\$\(head -1 \/var\/lib\/postgresql\/15\/main\/postmaster\.pid/,
];

async function checkRun(
  steps: (ctx: HostContext) => Parameters<typeof runSteps>[1],
  files: Map<string, { content: string; owner: string; mode: string }>,
  showReads = false,
) {
  const events: RunEvent[] = [];
  const sent: Recorded[] = [];
  const unwrapped: string[] = [];
  const respond = fakeHost(files, 'hostname=h2\nmajors= 15\nsystemd=0\nsudo=1\npgbouncer=1\npgbouncer_running=1');
  const connection = new RecordingConnection(
    'h2',
    VARS,
    (h, c, s) => {
      unwrapped.push(c);
      return respond(h, c, s);
    },
    sent,
  );
  const ctx = new HostContext('h2', VARS, connection, { emit: (e) => events.push(e) }, { check: true, diff: true, verbose: true, showReads }, new Secrets());
  const changed = await runSteps(ctx, steps(ctx));
  return { events, sent, unwrapped, changed, ctx };
}

describe('check mode through the engine (-v --diff)', () => {
  const facts = { h1: nodeFacts('PRIMARY'), h2: nodeFacts('REPLICA', { upstream: '10.0.0.1' }) };
  const before = clusterFixture({ members: [member('h1'), member('h2')], facts, bouncers: { h2: { host: '10.0.0.1', paused: false } } });
  const cc = clusterFixture({
    members: [member('h1'), member('h2', { pg_parameters: { work_mem: '8MB' } })],
    facts,
    bouncers: { h2: { host: '10.0.0.1', paused: false } },
  });
  const roles = [
    { name: 'admin', verifier: scramVerifier('admin-secret-pw') },
    { name: 'app', verifier: NEW_VERIFIER },
  ];
  // On the host: the files of before (work_mem unset, the old replication password in pgpass), an old app verifier in the userlist.
  const onHost = new Map<string, { content: string; owner: string; mode: string }>();
  for (const f of configFiles(before, 'h2')) onHost.set(f.path, { content: f.content, owner: 'postgres', mode: f.mode ?? '0644' });
  onHost.set(`${CONF}/pgpass`, { content: '*:5432:*:replicator:an-old-app-password\n', owner: 'postgres', mode: '0600' });
  const oldRoles = [roles[0]!, { name: 'app', verifier: OLD_VERIFIER }];
  for (const f of pgbouncerFiles(before.spec, 'h2', '10.0.0.1', oldRoles, before.templates))
    onHost.set(f.path, { content: f.content, owner: 'postgres', mode: f.mode! });
  // pg_tls (default): the member's certificate, key and CA are in place, PostgreSQL's and PgBouncer's copies.
  beforeAll(async () => {
    const view = fixtureView({ host: 'h2', check: true });
    for (const f of [...(await pgTlsFiles(before, 'h2', view)), ...(await bouncerTlsFiles(before.spec, 'h2', view))])
      onHost.set(f.path, { content: f.content, owner: 'postgres', mode: f.mode! });
  });

  test('config differs: puts described, reload reported as changed, PgBouncer reloaded, only reads sent, no secret in any event', async () => {
    const { events, sent, unwrapped, changed, ctx } = await checkRun(
      () => [...configRole(cc, 'h2'), ...serviceRole(cc, 'h2'), ...pgbouncerRole(cc, 'h2', () => roles)],
      onHost,
    );
    expect(changed).toBe(true);

    const steps = events.filter((e) => e.type === 'step');
    expect(steps.map((e) => [e.step, e.status, e.message, e.check])).toEqual([
      ['config: directories', 'ok', undefined, true],
      ['config: files', 'changed', `${CONF}/postgresql.conf, ${CONF}/pgpass`, true],
      ['service', 'changed', 'reload configuration', true],
      ['pgbouncer: install', 'ok', 'present', true],
      ['pgbouncer: config', 'changed', '/etc/pgbouncer/userlist.txt', true],
      ['pgbouncer: service', 'changed', 'reload', true],
    ]);

    // What would run, as -v shows it, in order (reads are shown with -vv only).
    expect(events.filter((e) => e.type === 'command' && !e.command.startsWith('would run: '))).toEqual([]);
    const wouldRun = events.flatMap((e) => (e.type === 'command' && e.command.startsWith('would run: ') ? [e.command.slice('would run: '.length)] : []));
    const conf = configFiles(cc, 'h2').find((f) => f.path === `${CONF}/postgresql.conf`)!;
    expect(wouldRun).toEqual([
      'then: remember the 2 replaced file(s), to put them back if PostgreSQL rejects the new ones',
      `put ${CONF}/postgresql.conf (0644 postgres:postgres, ${Buffer.byteLength(conf.content)} bytes)`,
      `put ${CONF}/pgpass (0600 postgres:postgres, secret, 35 bytes)`,
      'then: check that PostgreSQL accepts the new files (pg_file_settings); put the previous ones back if not',
      'then: check that PostgreSQL accepts the files written (put the previous ones back if not)',
      'reload postgresql@15-main: /usr/lib/postgresql/15/bin/pg_ctl reload -s -D /var/lib/postgresql/15/main',
      'then: collect the settings that wait for a restart (pending_restart)',
      expect.stringMatching(/^put \/etc\/pgbouncer\/userlist\.txt \(0640 postgres:postgres, secret, \d+ bytes\)$/),
      'p=$(cat /var/run/postgresql/pgbouncer.pid) && [ "$(cat /proc/$p/comm)" = pgbouncer ] && kill -HUP "$p"',
    ]);

    // The diff shows postgresql.conf's change, and of the secret files only that they changed.
    const diffs = steps.map((e) => (e.type === 'step' ? (e.diff ?? '') : '')).join('\n');
    expect(diffs).toContain("+work_mem = '8MB'");
    expect(diffs).toContain(`--- ${CONF}/pgpass\n+++ ${CONF}/pgpass\n(secret content changed)`);
    expect(diffs).toContain('--- /etc/pgbouncer/userlist.txt\n+++ /etc/pgbouncer/userlist.txt\n(secret content changed)');

    // The handlers ran (in description): nothing is left notified.
    expect([...ctx.notified]).toEqual([]);

    // The host received reads only: each one a declared read, psql only in a read-only transaction, no upload, no service command.
    expect(unwrapped.length).toBeGreaterThan(0);
    for (const c of unwrapped)
      expect(
        READS.some((r) => r.test(c)),
        c,
      ).toBe(true);
    for (const r of sent) {
      expect(r.command).not.toMatch(/mktemp|cat > |\bpg_ctl(cluster)? |systemctl |kill -|\/usr\/sbin\/pgbouncer -d/);
      if (r.command.includes('psql')) expect(r.command).toMatch(/; PGOPTIONS=\S*-c default_transaction_read_only=on\S* \S*\$psql\S* /);
      // As the inventory says: deploy, become root (or postgres for psql).
      expect(r.command).toMatch(/^sudo -n -H -u (root|postgres) -- sh -c /);
    }

    const everything = JSON.stringify(events);
    for (const secret of SECRETS) expect(everything).not.toContain(secret);
    expect(everything).not.toContain('********');
    expect(everything).not.toContain('PRIVATE KEY');
  });

  test('-vv: the reads are shown too, plainly (no "would run"), each a declared read', async () => {
    const { events, unwrapped } = await checkRun(
      () => [...configRole(cc, 'h2'), ...serviceRole(cc, 'h2'), ...pgbouncerRole(cc, 'h2', () => roles)],
      onHost,
      true,
    );
    const reads = events.flatMap((e) => (e.type === 'command' && !e.command.startsWith('would run: ') ? [e.command] : []));
    expect(reads).toHaveLength(unwrapped.length);
    for (const c of reads)
      expect(
        READS.some((r) => r.test(c)),
        c,
      ).toBe(true);
    const everything = JSON.stringify(events);
    for (const secret of SECRETS) expect(everything).not.toContain(secret);
  });

  test('a changed password in check mode: the ALTER ROLE is shown with its verifier masked, and never sent', async () => {
    const stale = [
      { name: 'admin', superuser: true, replication: false, verifier: scramVerifier('an-old-app-password') },
      { name: 'replicator', superuser: false, replication: true, verifier: scramVerifier('repl-secret-pw') },
    ];
    const primary = clusterFixture({ members: [member('h2')], facts: { h2: nodeFacts('PRIMARY', { roles: stale }) } });
    const { events, sent } = await checkRun(() => [rolesStep(primary)], new Map());
    expect(events.filter((e) => e.type === 'step').map((e) => e.type === 'step' && [e.status, e.message])).toEqual([['changed', 'set admin password']]);
    const command = events.find((e) => e.type === 'command');
    expect(command).toMatchObject({
      type: 'command',
      command: expect.stringMatching(/^would run: psql -p 5432 -d postgres <<< .*ALTER ROLE "admin" PASSWORD '\*{8}'/s),
    });
    expect(sent).toEqual([]);
    const everything = JSON.stringify(events);
    for (const secret of SECRETS) expect(everything).not.toContain(secret);
  });
});
