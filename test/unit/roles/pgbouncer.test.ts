import { describe, expect, test } from 'vitest';
import { PGBOUNCER_HBA, PGBOUNCER_INI, PGBOUNCER_USERLIST, pgbouncerFiles, pgbouncerRole, pgbouncerServiceStep } from '../../../roles/pgbouncer.js';
import { BOUNCER_TLS, bouncerTlsFiles } from '../../../roles/tls.js';
import { scramVerifier } from '../../../src/cluster/scram.js';
import type { BouncerFacts } from '../../../src/facts/pgbouncer.js';
import type { SystemFacts } from '../../../src/facts/system.js';
import { nodeFacts } from '../helpers/node-facts.js';
import { clusterFixture, filesAsWanted, filesMissing, fixtureView, member, planned, plannedAll, type ReadAnswer } from '../helpers/role-fixture.js';

const system = (extra: Partial<SystemFacts> = {}): SystemFacts => ({
  hostname: 'h2',
  os: 'debian:12',
  postgresMajors: [15],
  systemd: false,
  hasSudo: true,
  pgbouncerInstalled: true,
  pgbouncerRunning: true,
  pgbouncerPausedMarker: false,
  ...extra,
});
const [h1, h2] = [member('h1'), member('h2')];
const facts = { h1: nodeFacts('PRIMARY'), h2: nodeFacts('REPLICA', { upstream: '10.0.0.1' }) };
const roles = [
  { name: 'admin', verifier: scramVerifier('admin-secret-pw') },
  { name: 'app', verifier: scramVerifier('app-secret-pw') },
];
const cluster = (bouncers: Record<string, BouncerFacts> = {}, systemd = false) => clusterFixture({ members: [h1, h2], facts, bouncers, systemd });
/** The pid file names a live pgbouncer (exit 0) or not. */
const pidAnswer = (running: boolean): ReadAnswer => ({ match: /pgbouncer\.pid.*= pgbouncer/s, result: { code: running ? 0 : 1 } });
const SIGNAL_PREFIX = 'p=$(cat /var/run/postgresql/pgbouncer.pid) && [ "$(cat /proc/$p/comm)" = pgbouncer ]';

describe('pgbouncer role: install and files', () => {
  test('pg_pgbouncer: false: one skipped step, nothing read', async () => {
    const cc = clusterFixture({ members: [h1, member('h2', { pg_pgbouncer: false })], facts });
    const view = fixtureView({ host: 'h2' });
    expect(
      await plannedAll(
        pgbouncerRole(cc, 'h2', () => roles),
        view,
      ),
    ).toEqual({ pgbouncer: { kind: 'skip', reason: 'pg_pgbouncer is false' } });
    expect(view.readsMade).toEqual([]);
  });

  test('installed, files as wanted, routes to the primary, not notified: three ok steps, one read (the files)', async () => {
    const cc = cluster({ h2: { host: '10.0.0.1', paused: false } });
    // pg_tls (default): its hba rules and its copy of the member's certificate, key and CA, in the same one stat.
    const files = [...pgbouncerFiles(cc.spec, 'h2', '10.0.0.1', roles, cc.templates), ...(await bouncerTlsFiles(cc.spec, 'h2', fixtureView({ host: 'h2' })))];
    const view = fixtureView({ host: 'h2', facts: { system: system() }, reads: [filesAsWanted(files)] });
    expect(
      await plannedAll(
        pgbouncerRole(cc, 'h2', () => roles),
        view,
      ),
    ).toEqual({
      'pgbouncer: install': { kind: 'ok', reason: 'present' },
      'pgbouncer: config': { kind: 'ok', reason: '6 file(s) up to date' },
      'pgbouncer: service': { kind: 'ok', reason: 'running' },
    });
    expect(view.readsMade).toHaveLength(1);
  });

  test('not installed: apt-get install as root; a fresh host gets both files (the userlist a secret) and a start', async () => {
    const cc = cluster();
    const view = fixtureView({
      host: 'h2',
      facts: { system: system({ pgbouncerInstalled: false, pgbouncerRunning: false }) },
      reads: [filesMissing([PGBOUNCER_INI, PGBOUNCER_USERLIST, PGBOUNCER_HBA, ...Object.values(BOUNCER_TLS)]), pidAnswer(false)],
    });
    const plans = await plannedAll(
      pgbouncerRole(cc, 'h2', () => roles),
      view,
    );
    expect(plans['pgbouncer: install']).toEqual({
      kind: 'change',
      summary: 'apt-get install pgbouncer',
      actions: [{ kind: 'run', command: 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q pgbouncer', user: 'root', timeoutMs: 600_000 }],
    });
    const config = plans['pgbouncer: config']!;
    expect(config).toMatchObject({
      kind: 'change',
      summary: [PGBOUNCER_INI, PGBOUNCER_USERLIST, PGBOUNCER_HBA, BOUNCER_TLS.ca, BOUNCER_TLS.cert, BOUNCER_TLS.key].join(', '),
    });
    const [ini, userlist, hba, ca, cert, key, notify] = config.actions as Record<string, unknown>[];
    expect(ini).toMatchObject({ kind: 'put', path: PGBOUNCER_INI, owner: 'postgres', group: 'postgres', mode: '0640' });
    expect(ini!.content).toContain('postgres = host=10.0.0.1 port=5432\n* = host=10.0.0.1 port=5432');
    expect(ini!.content).toContain('listen_port = 6432');
    expect(ini!.content).toContain('pool_mode = transaction');
    expect(ini!.content).toContain('auth_type = hba');
    expect(ini!.content).toContain('client_tls_key_file = /etc/pgbouncer/server.key');
    // Plain text from this host only (pgtasks' own admin sessions come over loopback), TLS from anywhere else.
    expect(hba).toMatchObject({ kind: 'put', path: PGBOUNCER_HBA, owner: 'postgres', mode: '0640' });
    const rules = String(hba!.content)
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.split(/\s+/).join(' '));
    expect(rules).toEqual([
      'local all all scram-sha-256',
      'host all all 127.0.0.1/32 scram-sha-256',
      'host all all ::1/128 scram-sha-256',
      'hostssl all all 0.0.0.0/0 scram-sha-256',
      'hostssl all all ::/0 scram-sha-256',
      'hostnossl all all 0.0.0.0/0 reject',
      'hostnossl all all ::/0 reject',
    ]);
    expect([ca, cert].map((f) => f!.mode)).toEqual(['0644', '0644']);
    expect(key).toEqual({ kind: 'put', path: BOUNCER_TLS.key, owner: 'postgres', group: 'postgres', mode: '0600', secret: true, content: '(secret)' });
    expect(userlist).toEqual({ kind: 'put', path: PGBOUNCER_USERLIST, owner: 'postgres', group: 'postgres', mode: '0640', secret: true, content: '(secret)' });
    expect(notify).toEqual({ kind: 'notify', handler: 'pgbouncer-reload' });
    expect(JSON.stringify(plans)).not.toMatch(/SCRAM-SHA-256|secret-pw/);
    // The start clears the notification the config step made: a fresh PgBouncer reads its files.
    expect(plans['pgbouncer: service']).toEqual({
      kind: 'change',
      summary: 'start PgBouncer',
      actions: [
        {
          kind: 'run',
          // A pidfile left by a killed PgBouncer, its pid now another process's, would stop the start: removed.
          command:
            'rm -f /var/run/postgresql/pgbouncer.pgtasks-paused && p=$(cat /var/run/postgresql/pgbouncer.pid 2>/dev/null); if [ -n "$p" ] && [ "$(cat /proc/$p/comm 2>/dev/null)" != pgbouncer ]; then rm -f /var/run/postgresql/pgbouncer.pid; fi && install -d -o postgres -g postgres -m 2775 /var/run/postgresql && runuser -u postgres -- /usr/sbin/pgbouncer -d -q /etc/pgbouncer/pgbouncer.ini',
        },
        { kind: 'notify', handler: 'pgbouncer-reload', handled: true },
      ],
    });
    expect(view.notified.has('pgbouncer-reload')).toBe(false);
  });

  test('the userlist holds the exact scram verifiers, names quoted', () => {
    const cc = cluster();
    const [, userlist] = pgbouncerFiles(cc.spec, 'h2', '10.0.0.1', [{ name: 'we"ird', verifier: 'SCRAM-SHA-256$4096:abc' }], cc.templates);
    expect(userlist!.content).toBe('"we""ird" "SCRAM-SHA-256$4096:abc"\n');
    expect(userlist!.secret).toBe(true);
  });

  test('session pool mode adds server_reset_query', () => {
    const cc = clusterFixture({ members: [h1, member('h2', { pg_pgbouncer_pool_mode: 'session', pg_pgbouncer_port: 6543 })], facts });
    const [ini] = pgbouncerFiles(cc.spec, 'h2', '10.0.0.1', roles, cc.templates);
    expect(ini!.content).toMatch(/pool_mode = session\n[\s\S]*server_reset_query = DISCARD ALL/);
    expect(ini!.content).toContain('listen_port = 6543');
  });
});

describe('pgbouncer role: service', () => {
  test('not running, systemd: systemctl enable --now', async () => {
    const view = fixtureView({ host: 'h2', facts: { system: system({ pgbouncerRunning: false }) }, reads: [pidAnswer(false)] });
    const plan = await planned(pgbouncerServiceStep(cluster({}, true), 'h2'), view);
    expect(plan.actions).toEqual([
      { kind: 'run', command: 'rm -f /var/run/postgresql/pgbouncer.pgtasks-paused && systemctl enable --now pgbouncer' },
      { kind: 'notify', handler: 'pgbouncer-reload', handled: true },
    ]);
  });

  test('running (by the system facts), files changed: a reload by SIGHUP to the pid only if it is pgbouncer', async () => {
    const view = fixtureView({ host: 'h2', facts: { system: system() }, notified: ['pgbouncer-reload'] });
    expect(await planned(pgbouncerServiceStep(cluster(), 'h2'), view)).toEqual({
      kind: 'change',
      summary: 'reload',
      actions: [
        { kind: 'run', command: `${SIGNAL_PREFIX} && kill -HUP "$p"` },
        { kind: 'notify', handler: 'pgbouncer-reload', handled: true },
      ],
    });
    expect(view.readsMade).toEqual([]);
  });

  test('routing to a former primary (SHOW DATABASES): reloaded even with its files unchanged', async () => {
    const plan = await planned(pgbouncerServiceStep(cluster({ h2: { host: '10.0.0.2', paused: false } }), 'h2'), fixtureView({ host: 'h2' }));
    expect(plan).toEqual({
      kind: 'change',
      summary: 'reload (it routes to 10.0.0.2, the primary is 10.0.0.1)',
      actions: [
        { kind: 'run', command: `${SIGNAL_PREFIX} && kill -HUP "$p"` },
        { kind: 'notify', handler: 'pgbouncer-reload', handled: true },
      ],
    });
  });

  test('its state could not be read: reload and resume, both harmless when not needed', async () => {
    const plan = await planned(
      pgbouncerServiceStep(cluster({ h2: { paused: true, unknown: 'password authentication failed' } }), 'h2'),
      fixtureView({ host: 'h2' }),
    );
    expect(plan).toMatchObject({ kind: 'change', summary: 'reload (its state could not be read, the primary is 10.0.0.1), RESUME (left paused)' });
    expect((plan.actions as { command: string }[])[0]!.command).toBe(
      `${SIGNAL_PREFIX} && kill -HUP "$p" && kill -USR2 "$p" && rm -f /var/run/postgresql/pgbouncer.pgtasks-paused`,
    );
  });

  test('left paused by a killed switchover, routed right: RESUME only (SIGUSR2), and the marker removed', async () => {
    const plan = await planned(pgbouncerServiceStep(cluster({ h2: { host: '10.0.0.1', paused: true } }), 'h2'), fixtureView({ host: 'h2' }));
    expect(plan).toEqual({
      kind: 'change',
      summary: 'RESUME (left paused)',
      actions: [
        { kind: 'run', command: `${SIGNAL_PREFIX} && kill -USR2 "$p" && rm -f /var/run/postgresql/pgbouncer.pgtasks-paused` },
        { kind: 'notify', handler: 'pgbouncer-reload', handled: true },
      ],
    });
  });

  test('misrouted and paused: the route is fixed before RESUME, in one command', async () => {
    const plan = await planned(pgbouncerServiceStep(cluster({ h2: { host: '10.0.0.2', paused: true } }), 'h2'), fixtureView({ host: 'h2' }));
    expect(plan.summary).toBe('reload (it routes to 10.0.0.2, the primary is 10.0.0.1), RESUME (left paused)');
    expect((plan.actions as { command: string }[])[0]!.command).toMatch(/kill -HUP "\$p" && kill -USR2 "\$p"/);
  });

  test('running (live facts), routed right, nothing notified: ok, no read', async () => {
    const view = fixtureView({ host: 'h2' });
    expect(await planned(pgbouncerServiceStep(cluster({ h2: { host: '10.0.0.1', paused: false } }), 'h2'), view)).toEqual({ kind: 'ok', reason: 'running' });
    expect(view.readsMade).toEqual([]);
  });
});
