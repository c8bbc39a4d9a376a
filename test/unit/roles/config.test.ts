import { describe, expect, test } from 'vitest';
import { configFiles, configRole } from '../../../roles/config.js';
import { pgTlsFiles } from '../../../roles/tls.js';
import type { ClusterContext } from '../../../src/cluster/cluster-context.js';
import type { FileSpec } from '../../../src/steps/files.js';
import { pendingRestarts } from '../../../src/cluster/pending-restarts.js';
import { describeAction, putAction } from '../../../src/engine/action.js';
import { nodeFacts } from '../helpers/node-facts.js';
import { clusterFixture, filesAsWanted, filesMissing, fixtureView, member, planned, plannedAll, type ReadAnswer } from '../helpers/role-fixture.js';

const CONF = '/etc/postgresql/15/main';

// pg_settings rows as SETTINGS_SQL returns them (12 columns), trimmed to what these fixtures set.
const SETTINGS_ROWS = [
  ['work_mem', 'integer', 'user', 'kB', '64', '2147483647', '', '4096', '4096', 'default', '', '4MB'],
  ['shared_buffers', 'integer', 'postmaster', '8kB', '16', '1073741823', '', '16384', '16384', 'configuration file', `${CONF}/postgresql.conf`, '128MB'],
  ['max_connections', 'integer', 'postmaster', '', '1', '262143', '', '100', '100', 'configuration file', `${CONF}/postgresql.conf`, '100'],
];
/** The running server's pg_settings, read in a read-only transaction. */
const serverSettings: ReadAnswer = {
  match: /^for psql in .*; PGOPTIONS='-c default_transaction_read_only=on' "\$psql" .*\n<<< select name, vartype, context/s,
  result: { stdout: SETTINGS_ROWS.map((r) => r.join('\t')).join('\n') },
};
/** The files' current content (readFiles: NUL-separated name and content). */
const currentContent = (files: { path: string; content: string }[]): ReadAnswer => ({
  match: /^for f in .*printf 'F%s/s,
  result: { stdout: files.map((f) => `F${f.path}\0${f.content}\0`).join('') },
});

const [h1, h2] = [member('h1'), member('h2')];
/** The files the config step wants: configFiles and, with pg_tls (the default), the certificate, key and CA. */
const withTls = async (cc: ClusterContext, host: string, files: FileSpec[]) => [...files, ...(await pgTlsFiles(cc, host, fixtureView({ host })))];
const running = () => ({ h1: nodeFacts('PRIMARY'), h2: nodeFacts('REPLICA', { upstream: '10.0.0.1' }) });

describe('config role: {vars, facts, reads} -> actions', () => {
  test('files as wanted: both steps ok, and the only read is the one stat of the files', async () => {
    const cc = clusterFixture({ members: [h1, h2], facts: running() });
    // pg_tls (default on): the certificate, key and CA are among the files, in the same one stat.
    const view = fixtureView({ host: 'h2', reads: [filesAsWanted(await withTls(cc, 'h2', configFiles(cc, 'h2')))] });
    expect(await plannedAll(configRole(cc, 'h2'), view)).toEqual({
      'config: directories': { kind: 'ok' },
      'config: files': { kind: 'ok', reason: '10 file(s) up to date' },
    });
    expect(view.readsMade).toHaveLength(1);
    expect(view.readsMade[0]).toMatch(/^for f in .*stat -c/s);
  });

  test('a changed pg_parameters: settings checked, old file remembered, postgresql.conf put, judged, reload notified', async () => {
    const before = clusterFixture({ members: [h1, h2], facts: running() });
    const h1Tuned = member('h1', { pg_parameters: { work_mem: '8MB' } });
    const cc = clusterFixture({ members: [h1Tuned, h2], facts: running() });
    const old = configFiles(before, 'h1');
    const wanted = configFiles(cc, 'h1');
    const oldConf = old.find((f) => f.path.endsWith('/postgresql.conf'))!;
    const view = fixtureView({ host: 'h1', reads: [filesAsWanted(await withTls(before, 'h1', old)), serverSettings, currentContent([oldConf])] });
    const plan = await planned(configRole(cc, 'h1')[1]!, view);
    expect(plan).toEqual({
      kind: 'change',
      summary: `${CONF}/postgresql.conf`,
      actions: [
        { kind: 'call', what: 'remember the 1 replaced file(s), to put them back if PostgreSQL rejects the new ones' },
        { kind: 'put', path: `${CONF}/postgresql.conf`, content: wanted[0]!.content, owner: 'postgres', group: 'postgres', mode: '0644' },
        { kind: 'call', what: 'check that PostgreSQL accepts the new files (pg_file_settings); put the previous ones back if not' },
        { kind: 'notify', handler: 'postgresql-reload' },
      ],
    });
    expect(wanted[0]!.content).toContain("work_mem = '8MB'");
    // stat, pg_settings (read-only), the old content: nothing else.
    expect(view.readsMade).toHaveLength(3);
    expect(view.readsMade[1]).toMatch(/^for psql in .*; PGOPTIONS='-c default_transaction_read_only=on' "\$psql"/);
  });

  test('check mode: a restart-only setting changed on a running server is predicted for the restart phase', async () => {
    const before = clusterFixture({ members: [h1], facts: { h1: nodeFacts('PRIMARY') } });
    const cc = clusterFixture({
      members: [member('h1', { pg_parameters: { shared_buffers: '256MB', work_mem: '8MB' } })],
      facts: { h1: nodeFacts('PRIMARY') },
    });
    const old = configFiles(before, 'h1');
    const view = fixtureView({ host: 'h1', check: true, reads: [filesAsWanted(await withTls(before, 'h1', old)), serverSettings, currentContent([old[0]!])] });
    expect(await planned(configRole(cc, 'h1')[1]!, view)).toMatchObject({ kind: 'change' });
    expect(pendingRestarts(cc).get('h1')).toEqual({ names: ['shared_buffers'], predicted: [{ name: 'shared_buffers', from: '128MB', to: '256MB' }] });
    // Not in a real run: there the service step reads pending_restart after its reload.
    const real = clusterFixture({ members: cc.spec.members, facts: { h1: nodeFacts('PRIMARY') } });
    await planned(
      configRole(real, 'h1')[1]!,
      fixtureView({ host: 'h1', reads: [filesAsWanted(await withTls(before, 'h1', old)), serverSettings, currentContent([old[0]!])] }),
    );
    expect(pendingRestarts(real).size).toBe(0);
  });

  test('a stopped server: settings come from postgres --describe-config, and nothing is judged after the put', async () => {
    const h1Tuned = member('h1', { pg_parameters: { work_mem: '8MB' } });
    const cc = clusterFixture({ members: [h1Tuned], facts: { h1: nodeFacts('PRIMARY', { running: false }) } });
    const view = fixtureView({
      host: 'h1',
      reads: [
        filesMissing((await withTls(cc, 'h1', configFiles(cc, 'h1'))).map((f) => f.path)),
        // The certificate is among the new files: the plan reads the one the host serves (none) to say why.
        { match: /tls-cert:/, result: { stdout: `@@pgtasks-fact:tls-cert:${CONF}/server.crt\n` } },
        { match: /--describe-config/, result: { stdout: 'work_mem\tuser\tResource Usage\tINTEGER\t4096\t64\t2147483647\tdesc\tdesc' } },
        currentContent([]),
      ],
    });
    const plan = await planned(configRole(cc, 'h1')[1]!, view);
    const kinds = (plan.actions as { kind: string; what?: string }[]).map((a) => a.kind);
    expect(kinds).toEqual(['call', 'put', 'put', 'put', 'put', 'put', 'put', 'put', 'put', 'put', 'put', 'notify']);
    expect(plan.summary).toMatch(/^new server certificate \(valid until \d{4}-\d\d-\d\d\): /);
    expect((plan.actions as { what?: string }[])[0]!.what).toBe('remember the 0 replaced file(s), to put them back if PostgreSQL rejects the new ones');
    expect(view.readsMade.find((r) => r.includes('--describe-config'))).toBe('/usr/lib/postgresql/15/bin/postgres --describe-config');
    expect(view.readsMade.some((r) => r.includes('PGOPTIONS'))).toBe(false);
  });

  test('a misspelt parameter: refused with did-you-mean before any action, confirmed by PostgreSQL itself', async () => {
    const bad = member('h2', { pg_parameters: { work_mme: '8MB' } });
    const cc = clusterFixture({ members: [h1, bad], facts: running() });
    const good = clusterFixture({ members: [h1, h2], facts: running() });
    const view = fixtureView({
      host: 'h2',
      reads: [
        filesAsWanted(configFiles(good, 'h2')),
        serverSettings,
        { match: /check work_mme 8MB/, result: { stdout: '@@ 1\nunrecognized configuration parameter "work_mme"\n' } },
      ],
    });
    await expect(planned(configRole(cc, 'h2')[1]!, view)).rejects.toThrow(
      'pg_parameters.work_mme (on h2): PostgreSQL has no setting "work_mme"; did you mean work_mem?\nno configuration file was written',
    );
    // The refusal came from the plan: the old content was never even read for a put.
    expect(view.readsMade.some((r) => r.includes("printf 'F%s"))).toBe(false);
  });

  test("a suspect PostgreSQL's parser accepts (a hidden alias) is not refused", async () => {
    const odd = member('h1', { pg_parameters: { zero_damaged_pages: 'off' } });
    const cc = clusterFixture({ members: [odd], facts: { h1: nodeFacts('PRIMARY') } });
    const view = fixtureView({
      host: 'h1',
      reads: [
        filesAsWanted(await withTls(cc, 'h1', configFiles(clusterFixture({ members: [h1], facts: { h1: nodeFacts('PRIMARY') } }), 'h1'))),
        serverSettings,
        { match: /check zero_damaged_pages off/, result: { stdout: '@@ 0\n' } },
        currentContent([]),
      ],
    });
    expect(await planned(configRole(cc, 'h1')[1]!, view)).toMatchObject({ kind: 'change', summary: `${CONF}/postgresql.conf` });
  });

  test('a replica follows the planned primary through its slot; the primary has no primary_conninfo', async () => {
    const cc = clusterFixture({ members: [h1, h2], facts: running() });
    const conf = (host: string) => configFiles(cc, host).find((f) => f.path === `${CONF}/postgresql.conf`)!.content;
    expect(conf('h2')).toContain(
      `primary_conninfo = 'host=10.0.0.1 port=5432 user=replicator passfile=${CONF}/pgpass application_name=h2 sslmode=verify-full sslrootcert=${CONF}/root.crt'\nprimary_slot_name = 'h2'`,
    );
    expect(conf('h1')).not.toMatch(/primary_conninfo|primary_slot_name/);
    for (const host of ['h1', 'h2']) {
      expect(conf(host)).toContain(`include_if_exists = '${CONF}/sync.conf'`);
      expect(conf(host)).toContain(`cluster_name = '15/main'`);
      expect(conf(host)).toContain("listen_addresses = '*'");
    }
    // No primary left: the replica the planner promotes is the one the others follow.
    const promoted = clusterFixture({
      members: [h1, h2, member('h3')],
      facts: { h1: nodeFacts('EMPTY'), h2: nodeFacts('REPLICA', { lsn: '0/1' }), h3: nodeFacts('REPLICA', { lsn: '0/9' }) },
    });
    const h2conf = configFiles(promoted, 'h2').find((f) => f.path.endsWith('postgresql.conf'))!.content;
    expect(h2conf).toContain("primary_conninfo = 'host=10.0.0.3 ");
  });

  test('pg_hba: replication and access for every member (IPv4 /32, IPv6 /128), then the inventory rules', async () => {
    const v6 = { ...member('h3'), address: 'fd00::3' };
    const withRules = member('h1', {
      pg_hba: ['hostssl app app 192.168.0.0/16 scram-sha-256', { database: 'reports', user: 'bi', address: '10.9.0.0/16', method: 'scram-sha-256' }],
    });
    const cc = clusterFixture({ members: [withRules, h2, v6], facts: { h1: nodeFacts('PRIMARY'), h2: nodeFacts('REPLICA'), h3: nodeFacts('REPLICA') } });
    const hba = configFiles(cc, 'h1').find((f) => f.path === `${CONF}/pg_hba.conf`)!;
    expect(hba).toMatchObject({ owner: 'postgres', group: 'postgres', mode: '0640' });
    const lines = hba.content.split('\n').map((l) => l.replace(/\s+/g, ' ').trim());
    for (const cidr of ['10.0.0.1/32', '10.0.0.2/32', 'fd00::3/128']) {
      expect(lines).toContain(`hostssl replication replicator ${cidr} scram-sha-256`);
      expect(lines).toContain(`hostssl all all ${cidr} scram-sha-256`);
    }
    // pg_tls: plain text from elsewhere than this host is refused before any rule that could let it in (the inventory's too).
    const reject = lines.indexOf('hostnossl all all 0.0.0.0/0 reject');
    expect(reject).toBeGreaterThan(lines.indexOf('host all all ::1/128 scram-sha-256'));
    expect(lines.slice(reject, reject + 4)).toEqual([
      'hostnossl all all 0.0.0.0/0 reject',
      'hostnossl all all ::/0 reject',
      'hostnossl replication all 0.0.0.0/0 reject',
      'hostnossl replication all ::/0 reject',
    ]);
    expect(reject).toBeLessThan(lines.indexOf('hostssl replication replicator 10.0.0.1/32 scram-sha-256'));
    expect(lines.slice(-3)).toEqual(['hostssl app app 192.168.0.0/16 scram-sha-256', 'host reports bi 10.9.0.0/16 scram-sha-256', '']);
    expect(lines.filter((l) => !l.startsWith('#')).join('\n')).not.toMatch(/\btrust\b/);
    // Another member gets the cluster's member rules but not h1's own extra rules.
    expect(configFiles(cc, 'h2').find((f) => f.path === `${CONF}/pg_hba.conf`)!.content).not.toContain('reports');
  });

  test('pgpass: 0600, postgres-owned, a secret put (its content never in the action data nor its description)', async () => {
    const cc = clusterFixture({ members: [h1, h2], facts: running() });
    const pgpass = configFiles(cc, 'h2').find((f) => f.path === `${CONF}/pgpass`)!;
    expect(pgpass).toEqual({
      path: `${CONF}/pgpass`,
      owner: 'postgres',
      group: 'postgres',
      mode: '0600',
      secret: true,
      content: '*:5432:*:replicator:repl-secret-pw\n',
    });
    const others = configFiles(cc, 'h2').filter((f) => f.path !== pgpass.path);
    const view = fixtureView({
      host: 'h2',
      reads: [
        {
          match: /^for f in .*stat -c/s,
          result: {
            stdout: [
              filesAsWanted(await withTls(cc, 'h2', others)).result.stdout,
              `S ${pgpass.path} postgres postgres 600`,
              `H ${'0'.repeat(64)}  ${pgpass.path}`,
            ].join('\n'),
          },
        },
        currentContent([{ path: pgpass.path, content: '*:5432:*:replicator:an-old-password\n' }]),
      ],
    });
    const plan = await planned(configRole(cc, 'h2')[1]!, view);
    expect((plan.actions as Record<string, unknown>[])[1]).toEqual({
      kind: 'put',
      path: `${CONF}/pgpass`,
      content: '(secret)',
      owner: 'postgres',
      group: 'postgres',
      mode: '0600',
      secret: true,
    });
    expect(JSON.stringify(plan)).not.toContain('repl-secret-pw');
    expect(describeAction(putAction(pgpass))).toBe(`put ${CONF}/pgpass (0600 postgres:postgres, secret, 35 bytes)`);
  });

  test('directories: made by root when the configuration directory is missing; no read when the facts say configured', async () => {
    const cc = clusterFixture({ members: [h1, h2], facts: { h1: nodeFacts('PRIMARY'), h2: nodeFacts('EMPTY') } });
    const missing = fixtureView({ host: 'h2', reads: [{ match: /stat -c '%U'/, result: { stdout: 'missing\n' } }] });
    expect(await planned(configRole(cc, 'h2')[0]!, missing)).toEqual({
      kind: 'change',
      summary: `create ${CONF}`,
      actions: [{ kind: 'run', command: `install -d -o postgres -g postgres -m 0755 /etc/postgresql/15 ${CONF}` }],
    });
    const there = fixtureView({ host: 'h2', reads: [{ match: /stat -c '%U'/, result: { stdout: 'postgres\n' } }] });
    expect(await planned(configRole(cc, 'h2')[0]!, there)).toEqual({ kind: 'ok' });
  });
});
