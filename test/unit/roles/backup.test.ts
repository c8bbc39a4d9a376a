import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import {
  archivingStep,
  cronContent,
  filesOfHost,
  memberFiles,
  repoFiles,
  repoStanzas,
  serverStep,
  stanzaStep,
  versionInConfig,
  type BackupMaterial,
} from '../../../roles/backup.js';
import { cipherPass, memberTls, repoHostTls, serverSan, type HostTls } from '../../../src/backup/certs.js';
import type { ClusterSpec } from '../../../src/cluster/vars.js';
import { Secrets } from '../../../src/engine/secrets.js';
import type { PgBackRestFacts } from '../../../src/facts/pgbackrest.js';
import { filesAsWanted, fixtureView, member, planned, type ReadAnswer } from '../helpers/role-fixture.js';

const BACKUP = { provider: 'pgbackrest', repo_host: 'b1', retention_full: 2, schedule: { full: '0 1 * * 0', diff: '0 1 * * 1-6' } };
const spec = (name: string, hosts: string[], extra: Record<string, unknown> = {}): ClusterSpec => {
  const members = hosts.map((h) => member(h, { pg_cluster: name, pg_backup: { ...BACKUP, ...extra } }));
  return {
    name,
    members,
    port: 5432,
    syncReplicas: 0,
    credentialsDir: '/nonexistent',
    backup: { ...members[0]!.vars.pg_backup!, repoAddress: '10.0.0.99' },
  };
};
const TLS: HostTls = { ca: 'CA\n', serverCert: 'SC\n', serverKey: 'SK-secret\n', clientCert: 'CC\n', clientKey: 'CK-secret\n' };
const facts = (f: Partial<PgBackRestFacts>) => ({ pgbackrest: { version: '2.45', systemd: false, serverRunning: true, ...f } });

describe('files and schedule', () => {
  test("a member's files: pgbackrest.conf 0640 root:postgres naming the repository over TLS, certificates owned by postgres, keys 0600 and secret", () => {
    const files = memberFiles(spec('demo', ['h1', 'h2']), 15, TLS);
    expect(files.map((f) => [f.path, f.owner, f.group, f.mode, f.secret ?? false])).toEqual([
      ['/etc/pgbackrest/pgbackrest.conf', 'root', 'postgres', '0640', false],
      ['/etc/pgbackrest/cert/ca.crt', 'postgres', 'postgres', '0644', false],
      ['/etc/pgbackrest/cert/server.crt', 'postgres', 'postgres', '0644', false],
      ['/etc/pgbackrest/cert/server.key', 'postgres', 'postgres', '0600', true],
      ['/etc/pgbackrest/cert/client.crt', 'postgres', 'postgres', '0644', false],
      ['/etc/pgbackrest/cert/client.key', 'postgres', 'postgres', '0600', true],
    ]);
    expect(files[0]!.content).toMatch(/^repo1-host=10\.0\.0\.99$/m);
    expect(files[0]!.content).toMatch(/^tls-server-auth=pgtasks-repo=demo$/m);
    expect(files[0]!.content).not.toMatch(/cipher/);
  });

  test("the repository host's file lists every cluster sharing it; a cluster of unknown major keeps the one its stanza has; encrypted: a secret file", () => {
    const demo = spec('demo', ['h1', 'h2']);
    const other = spec('orders', ['h5']);
    const m: BackupMaterial = {
      repoHost: 'b1',
      repoTls: TLS,
      memberTls: new Map(),
      stanzas: [
        { spec: demo, cipher: 'pass-demo' },
        { spec: other, cipher: 'pass-orders' },
      ],
    };
    const existing = '[global]\nrepo1-path=/var/lib/pgbackrest\n\n[orders]\npg1-host=10.0.0.5\npg1-path=/var/lib/postgresql/16/orders\n';
    expect(versionInConfig(existing, 'orders')).toBe(16);
    const stanzas = repoStanzas(m, { cluster: 'demo', version: 15 }, existing);
    expect(stanzas.map((s) => [s.cluster, s.version, s.members.map((x) => x.address)])).toEqual([
      ['demo', 15, ['10.0.0.1', '10.0.0.2']],
      ['orders', 16, ['10.0.0.5']],
    ]);
    const [conf] = repoFiles(stanzas, 8432, TLS);
    expect(conf!.secret).toBe(true);
    expect(conf!.content).toMatch(/^tls-server-auth=pgtasks-demo=demo$/m);
    expect(conf!.content).toMatch(/^tls-server-auth=pgtasks-orders=orders$/m);
    expect(conf!.content).toMatch(/\[orders\]\nrepo1-retention-full=2\nrepo1-cipher-type=aes-256-cbc\nrepo1-cipher-pass=pass-orders\n/);
  });

  test('cron: with replicas a standby first, else the primary; without replicas the primary only; schedules as given', () => {
    expect(cronContent(spec('demo', ['h1', 'h2']))).toContain(
      '0 1 * * 0 postgres pgbackrest --stanza=demo --type=full --backup-standby backup || pgbackrest --stanza=demo --type=full --no-backup-standby backup\n',
    );
    const single = cronContent(spec('solo', ['h1'], { schedule: { full: '30  2 * * 0', incr: '0 */4 * * *' } }));
    expect(single.split('\n').filter((l) => /^[0-9*]/.test(l))).toEqual([
      '30 2 * * 0 postgres pgbackrest --stanza=solo --type=full --no-backup-standby backup',
      '0 */4 * * * postgres pgbackrest --stanza=solo --type=incr --no-backup-standby backup',
    ]);
  });
});

describe('steps', () => {
  test('files as wanted: ok, one read; a changed key restarts the TLS server, a changed pgbackrest.conf reloads it', async () => {
    const files = memberFiles(spec('demo', ['h1']), 15, TLS);
    const same = fixtureView({ host: 'h1', reads: [filesAsWanted(files)] });
    expect(
      await planned(
        filesOfHost(() => files),
        same,
      ),
    ).toEqual({ kind: 'ok', reason: '6 file(s) up to date' });
    expect(same.readsMade).toHaveLength(1);
    const changedKey = files.map((f) => (f.path.endsWith('server.key') ? { ...f, content: 'old\n' } : f));
    const p = await planned(
      filesOfHost(() => files),
      fixtureView({ host: 'h1', reads: [filesAsWanted(changedKey)] }),
    );
    expect(p).toMatchObject({ kind: 'change', summary: '/etc/pgbackrest/cert/server.key' });
    const actions = p.actions as { kind: string; handler?: string; content?: string }[];
    expect(actions.filter((a) => a.kind === 'notify').map((a) => a.handler)).toEqual(['pgbackrest-restart']);
    expect(actions.find((a) => a.kind === 'put')!.content).toBe('(secret)');
    const changedConf = files.map((f) => (f.path.endsWith('pgbackrest.conf') ? { ...f, content: 'old\n' } : f));
    const q = await planned(
      filesOfHost(() => files),
      fixtureView({ host: 'h1', reads: [filesAsWanted(changedConf)] }),
    );
    expect((q.actions as { kind: string; handler?: string }[]).filter((a) => a.kind === 'notify').map((a) => a.handler)).toEqual(['pgbackrest-reload']);
  });

  test('TLS server: started with setsid and a pid file where there is no systemd; systemctl enable --now where there is', async () => {
    const p = await planned(serverStep(8432), fixtureView({ host: 'h1', facts: facts({ serverRunning: false }) }));
    expect(p).toMatchObject({ kind: 'change', summary: 'start the pgBackRest TLS server (port 8432)' });
    const cmd = (p.actions as { command?: string }[])[0]!.command!;
    expect(cmd).toContain('runuser -u postgres -- setsid -f sh -c \'echo $$ > "$0"; exec pgbackrest server\' /var/run/postgresql/pgbackrest-server.pid');
    expect(cmd).toContain("ss -Hltn 'sport = :8432'");
    const s = await planned(serverStep(8432), fixtureView({ host: 'h1', facts: facts({ serverRunning: false, systemd: true }) }));
    expect((s.actions as { command?: string }[])[0]!.command).toBe('systemctl enable --now pgbackrest');
  });

  test('TLS server: running and not notified: ok without a read; notified: SIGHUP to a verified pid (reload), or restart (certificates)', async () => {
    const view = fixtureView({ host: 'h1', facts: facts({}) });
    expect(await planned(serverStep(8432), view)).toEqual({ kind: 'ok', reason: 'running (port 8432)' });
    expect(view.readsMade).toEqual([]);
    const reload = await planned(serverStep(8432), fixtureView({ host: 'h1', facts: facts({}), notified: ['pgbackrest-reload'] }));
    expect((reload.actions as { command?: string }[])[0]!.command).toBe(
      'p=$(cat /var/run/postgresql/pgbackrest-server.pid) && [ "$(cat /proc/$p/comm)" = pgbackrest ] && kill -HUP "$p"',
    );
    const restart = await planned(serverStep(8432), fixtureView({ host: 'h1', facts: facts({}), notified: ['pgbackrest-reload', 'pgbackrest-restart'] }));
    expect(restart).toMatchObject({ summary: 'restart the TLS server (certificates changed)' });
    expect((restart.actions as { kind: string; handler?: string }[]).filter((a) => a.kind === 'notify').map((a) => a.handler)).toEqual([
      'pgbackrest-restart',
      'pgbackrest-reload',
    ]);
  });

  const info = (status: { code: number; message: string }): ReadAnswer => ({
    match: /pgbackrest --stanza=demo --output=json info/,
    result: { stdout: JSON.stringify([{ name: 'demo', status, db: [], archive: [], backup: [] }]) },
  });

  test('stanza: missing: stanza-create as postgres; there: ok; an error such as access denied fails the step with its reason', async () => {
    const created = await planned(stanzaStep('demo'), fixtureView({ host: 'b1', reads: [info({ code: 1, message: 'missing stanza path' })] }));
    expect(created).toMatchObject({ kind: 'change', actions: [{ kind: 'run', command: 'pgbackrest --stanza=demo stanza-create', user: 'postgres' }] });
    expect(await planned(stanzaStep('demo'), fixtureView({ host: 'b1', reads: [info({ code: 2, message: 'no valid backups' })] }))).toEqual({
      kind: 'ok',
      reason: '0 backup(s)',
    });
    await expect(planned(stanzaStep('demo'), fixtureView({ host: 'b1', reads: [info({ code: 99, message: 'other' })] }))).rejects.toThrow(/stanza demo: other/);
  });

  const archiver = (row: string): ReadAnswer => ({ match: /pg_stat_archiver/, result: { stdout: `${row}\n` } });
  test('archiving: off until the restart: skipped; healthy: ok; a failing archiver or a change this run: pgbackrest check', async () => {
    const cc = { spec: spec('demo', ['h1']) };
    expect(await planned(archivingStep(cc, true), fixtureView({ host: 'h1', reads: [archiver('off\t0\t0\t\t\tfalse')] }))).toMatchObject({ kind: 'skip' });
    expect(await planned(archivingStep(cc, false), fixtureView({ host: 'h1', reads: [archiver('on\t5\t0\t000000010000000000000005\t\tfalse')] }))).toEqual({
      kind: 'ok',
      reason: '5 segment(s) archived, last 000000010000000000000005',
    });
    const failing = await planned(
      archivingStep(cc, false),
      fixtureView({ host: 'h1', reads: [archiver('on\t5\t3\t000000010000000000000005\t000000010000000000000006\ttrue')] }),
    );
    expect(failing).toMatchObject({ kind: 'change', actions: [{ kind: 'run', command: 'pgbackrest --stanza=demo check', user: 'postgres' }] });
    const changed = await planned(archivingStep(cc, true), fixtureView({ host: 'h1', reads: [archiver('on\t5\t0\t000000010000000000000005\t\tfalse')] }));
    expect(changed).toMatchObject({ kind: 'change', summary: 'pgbackrest check (WAL switch, archived into the repository)' });
  });
});

describe('certificates and the repository key (openssl on this machine)', () => {
  const dirs: string[] = [];
  afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
  const fresh = async () => {
    const d = await mkdtemp(join(tmpdir(), 'pgtasks-certs-test-'));
    dirs.push(d);
    return d;
  };

  test('server SAN: the address as a DNS name too (pgBackRest 2.45 matches DNS names only), the inventory name, the IP', () => {
    expect(serverSan('10.0.0.1', 'h1')).toBe('DNS:10.0.0.1,DNS:h1,IP:10.0.0.1');
    expect(serverSan('db1.example', 'db1')).toBe('DNS:db1.example,DNS:db1');
  });

  test('made once (keys 0600 in 0700 folders), the same on the next call; a new address makes a new server certificate', async () => {
    const dir = await fresh();
    const input = { credentialsDir: dir, repoHost: 'b1', repoAddress: '10.0.0.9', write: true, cluster: 'demo', host: 'h1', address: '10.0.0.1' };
    const first = await memberTls(input);
    expect(first.serverCert).toMatch(/BEGIN CERTIFICATE/);
    expect((await stat(join(dir, '_pgbackrest', 'b1', 'ca.key'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'demo', 'backup', 'h1.server.key'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'demo', 'backup'))).mode & 0o777).toBe(0o700);
    const again = await memberTls(input);
    expect(again).toEqual(first);
    const moved = await memberTls({ ...input, address: '10.0.0.2' });
    expect(moved.serverCert).not.toBe(first.serverCert);
    expect(moved.clientCert).toBe(first.clientCert);
    expect((await repoHostTls(input)).ca).toBe(first.ca);
  });

  test('check mode writes nothing in the credentials folder; the cipher pass is generated once, 0600, and registered as a secret', async () => {
    const dir = await fresh();
    const tls = await memberTls({
      credentialsDir: dir,
      repoHost: 'b1',
      repoAddress: '10.0.0.9',
      write: false,
      cluster: 'demo',
      host: 'h1',
      address: '10.0.0.1',
    });
    expect(tls.clientKey).toMatch(/PRIVATE KEY/);
    expect(await readdir(dir)).toEqual([]);
    const secrets = new Secrets();
    const pass = await cipherPass(dir, 'demo', true, secrets);
    expect(pass).toHaveLength(64);
    expect(await cipherPass(dir, 'demo', true, new Secrets())).toBe(pass);
    expect((await stat(join(dir, 'demo', 'backup', 'cipher.pass'))).mode & 0o777).toBe(0o600);
    expect(secrets.mask(`x ${pass} y`)).toBe('x ******** y');
  });
});
