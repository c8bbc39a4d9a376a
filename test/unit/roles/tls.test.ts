import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { configFiles, configRole } from '../../../roles/config.js';
import { pgbouncerFiles } from '../../../roles/pgbouncer.js';
import { cloneStep } from '../../../roles/replica.js';
import { explainingTls, pgTlsFiles, pgTlsPaths, provideTlsMaterial, tlsChangeReason } from '../../../roles/tls.js';
import { namedCertProblems, postgresTls } from '../../../src/tls/postgres-certs.js';
import { certInfo, renewalReason, type CertInfo } from '../../../src/tls/x509.js';
import { step } from '../../../src/engine/step.js';
import { announce } from '../helpers/announce.js';
import { nodeFacts } from '../helpers/node-facts.js';
import { clusterFixture, filesAsWanted, fixtureView, member, planned } from '../helpers/role-fixture.js';

/*
 * TLS by default (pg_tls): what the config role puts and says, when a certificate is renewed, what the
 * templates make of pg_tls, and the certificates the inventory may name instead. Certificates are real
 * (openssl through src/backup/certs.ts, in temporary folders).
 */

const CONF = '/etc/postgresql/15/main';
const DAY = 86_400_000;
const at = (days: number) => new Date(Date.now() + days * DAY);
const info = (notAfter: Date, san = ['DNS:h1'], fingerprint = 'AA'): CertInfo => ({ notAfter, san, fingerprint });

/** A self-signed certificate ending in `days` days, as a host might still serve one. */
function shortLived(days: number): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'pgtasks-tls-test-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      `${dir}/k`,
      '-out',
      `${dir}/c`,
      '-days',
      String(days),
      '-subj',
      '/CN=h1',
    ],
    { stdio: 'ignore' },
  );
  return { cert: readFileSync(`${dir}/c`, 'utf8'), key: readFileSync(`${dir}/k`, 'utf8') };
}

describe('renewal: the decision (pure)', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  test.each([
    [new Date('2026-03-01T00:00:00Z'), undefined],
    [new Date('2026-01-31T12:00:00Z'), undefined],
    [new Date('2026-01-31T00:00:00Z'), 'it expires on 2026-01-31, in 30 day(s) (renewed within 30)'],
    [new Date('2026-01-06T00:00:00Z'), 'it expires on 2026-01-06, in 5 day(s) (renewed within 30)'],
    [new Date('2025-12-31T00:00:00Z'), 'it expired on 2025-12-31'],
  ])('a certificate ending %s: %s', (notAfter, reason) => {
    expect(renewalReason({ notAfter }, now, 30)).toBe(reason);
  });

  test('why the files change, from what the host serves (its fact) and what it gets', () => {
    const wanted = info(new Date('2028-04-05T00:00:00Z'), ['DNS:h1', 'IP Address:10.0.0.1'], 'BB');
    expect(tlsChangeReason(undefined, wanted, undefined, now)).toBe('new server certificate (valid until 2028-04-05)');
    expect(tlsChangeReason(info(new Date('2026-01-11T00:00:00Z')), wanted, undefined, now)).toBe(
      'renew the server certificate: it expires on 2026-01-11, in 10 day(s) (renewed within 30) (valid until 2028-04-05)',
    );
    // Renewed here (the credentials folder's copy was close to its end) although the host's is another one.
    expect(tlsChangeReason(info(new Date('2027-01-01T00:00:00Z')), wanted, 'it expires on 2026-01-20, in 19 day(s) (renewed within 30)', now)).toMatch(
      /^renew the server certificate: it expires on 2026-01-20/,
    );
    expect(tlsChangeReason(info(new Date('2027-01-01T00:00:00Z'), ['DNS:h1']), wanted, undefined, now)).toBe(
      'new names (DNS:h1, IP Address:10.0.0.1) (valid until 2028-04-05)',
    );
    expect(tlsChangeReason(info(new Date('2027-01-01T00:00:00Z'), wanted.san, 'BB'), wanted, undefined, now)).toBe(
      'certificate files (owner, mode, CA or key)',
    );
  });
});

describe('the CA and server certificates in the credentials folder', () => {
  test('one CA per cluster, a pair per member naming its host, address (DNS and IP) and the service name; keys 0600; a re-run makes nothing; renewed within 30 days of the end', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgtasks-tls-creds-'));
    const input = {
      credentialsDir: dir,
      cluster: 'orders',
      serviceName: 'orders-db.example.com',
      members: [{ host: 'db1', address: '10.0.0.1' }],
      write: true,
    };
    const first = await postgresTls(input);
    const c = certInfo(first.servers.get('db1')!.cert);
    expect(c.san).toEqual(['DNS:10.0.0.1', 'DNS:db1', 'DNS:orders-db.example.com', 'IP Address:10.0.0.1']);
    expect(Math.round((c.notAfter.getTime() - Date.now()) / DAY)).toBe(825);
    for (const f of ['ca.key', 'db1.server.key']) expect((statSync(join(dir, 'orders', 'tls', f)).mode & 0o777).toString(8)).toBe('600');
    expect((statSync(join(dir, 'orders')).mode & 0o777).toString(8)).toBe('700');
    expect(namedCertProblems({ ca: first.ca, cert: first.servers.get('db1')!.cert, key: first.servers.get('db1')!.key, address: '10.0.0.1' })).toEqual([]);

    const again = await postgresTls(input);
    expect(again.servers.get('db1')).toEqual({ cert: first.servers.get('db1')!.cert, key: first.servers.get('db1')!.key });

    // 800 days on, it ends in 25: made again (same CA), and the run says why.
    const later = await postgresTls({ ...input, now: at(800) });
    const renewed = later.servers.get('db1')!;
    expect(later.ca).toBe(first.ca);
    expect(renewed.cert).not.toBe(first.servers.get('db1')!.cert);
    expect(renewed.renewed).toMatch(/^it expires on \d{4}-\d\d-\d\d, in 2[45] day\(s\) \(renewed within 30\)$/);
    // Check mode: nothing is written in the credentials folder, even when a certificate would be renewed.
    const before = readFileSync(join(dir, 'orders', 'tls', 'db1.server.crt'), 'utf8');
    const checked = await postgresTls({ ...input, write: false, now: at(1600) });
    expect(checked.servers.get('db1')!.renewed).toBeDefined();
    expect(readFileSync(join(dir, 'orders', 'tls', 'db1.server.crt'), 'utf8')).toBe(before);
  });

  test('certificates the inventory names: they must name the address replicas dial, come from ca_file and match the key', async () => {
    const mk = (cluster: string) =>
      postgresTls({
        credentialsDir: mkdtempSync(join(tmpdir(), 'pgtasks-tls-named-')),
        cluster,
        members: [
          { host: 'db1', address: '10.0.0.1' },
          { host: 'db2', address: '10.0.0.2' },
        ],
        write: true,
      });
    const [a, b] = [await mk('a'), await mk('b')];
    const db1 = a.servers.get('db1')!;
    expect(namedCertProblems({ ca: a.ca, cert: db1.cert, key: db1.key, address: '10.0.0.1' })).toEqual([]);
    expect(namedCertProblems({ ca: a.ca, cert: db1.cert, key: db1.key, address: '10.0.0.9' })).toEqual([
      'does not name 10.0.0.9 (it names DNS:10.0.0.1, DNS:db1, IP Address:10.0.0.1): replicas and PgBouncer verify it by that address',
    ]);
    expect(namedCertProblems({ ca: b.ca, cert: db1.cert, key: db1.key, address: '10.0.0.1' })).toEqual(['is not signed by pg_tls.ca_file']);
    expect(namedCertProblems({ ca: a.ca, cert: db1.cert, key: a.servers.get('db2')!.key, address: '10.0.0.1' })).toEqual(['does not match pg_tls.key_file']);
    expect(namedCertProblems({ ca: a.ca, cert: 'nope', key: db1.key, address: '10.0.0.1' })).toEqual(['is not a PEM certificate']);
  });
});

describe('config role with pg_tls: {vars, facts, reads} -> actions', () => {
  const [h1, h2] = [member('h1'), member('h2')];
  const running = () => ({ h1: nodeFacts('PRIMARY'), h2: nodeFacts('REPLICA', { upstream: '10.0.0.1' }) });

  test('a member serving a certificate that ends in 10 days: the new pair is put, the reason read from the host, a reload (never a restart)', async () => {
    const cc = clusterFixture({ members: [h1, h2], facts: running() });
    const wanted = await pgTlsFiles(cc, 'h1', fixtureView({ host: 'h1' }));
    const old = shortLived(10);
    const onHost = wanted.map((f) =>
      f.path.endsWith('server.crt') ? { ...f, content: old.cert } : f.path.endsWith('server.key') ? { ...f, content: old.key } : f,
    );
    const view = fixtureView({
      host: 'h1',
      reads: [
        filesAsWanted([...configFiles(cc, 'h1'), ...onHost]),
        {
          match: /^for f in .*printf 'F%s/s,
          result: {
            stdout: onHost
              .slice(1)
              .map((f) => `F${f.path}\0${f.content}\0`)
              .join(''),
          },
        },
        { match: /tls-cert:/, result: { stdout: `@@pgtasks-fact:tls-cert:${CONF}/server.crt\n${old.cert}` } },
      ],
    });
    const plan = await planned(configRole(cc, 'h1')[1]!, view);
    expect(plan.summary).toMatch(
      new RegExp(
        `^renew the server certificate: it expires on \\d{4}-\\d\\d-\\d\\d, in 9 day\\(s\\) \\(renewed within 30\\) \\(valid until \\d{4}-\\d\\d-\\d\\d\\): ${CONF}/server.crt, ${CONF}/server.key$`,
      ),
    );
    const actions = plan.actions as Record<string, unknown>[];
    expect(actions.map((a) => [a.kind, a.path ?? a.handler ?? a.what])).toEqual([
      ['call', 'remember the 2 replaced file(s), to put them back if PostgreSQL rejects the new ones'],
      ['put', `${CONF}/server.crt`],
      ['put', `${CONF}/server.key`],
      ['call', 'check that PostgreSQL accepts the new files (pg_file_settings); put the previous ones back if not'],
      ['notify', 'postgresql-reload'],
    ]);
    expect(actions[2]).toMatchObject({ mode: '0600', owner: 'postgres', secret: true, content: '(secret)' });
    expect(JSON.stringify(plan)).not.toContain('PRIVATE KEY');
    // stat, the old contents (kept to put back), the serving certificate: nothing else.
    expect(view.readsMade).toHaveLength(3);
  });

  test('a certificate the inventory names that ends within 30 days: warned about (pgtasks cannot renew it), not replaced', async () => {
    const cc = clusterFixture({ members: [h1], facts: { h1: nodeFacts('PRIMARY') } });
    const wanted = await pgTlsFiles(cc, 'h1', fixtureView({ host: 'h1' }));
    const files = step('config: files', async () => ({ kind: 'ok', reason: 'up to date' }));
    const view = fixtureView({ host: 'h1' });
    provideTlsMaterial(cc.spec, async () => new Map([['h1', { ca: wanted[0]!.content, cert: shortLived(20).cert, key: '', named: true }]]));
    expect(await planned(explainingTls(cc, 'h1', files), view)).toEqual({ kind: 'ok', reason: 'up to date' });
    expect(view.messages).toEqual([
      expect.stringMatching(
        /^pg_tls\.cert_file for h1: it expires on \d{4}-\d\d-\d\d, in 19 day\(s\) \(renewed within 30\); pgtasks does not renew certificates the inventory names: replace the file$/,
      ),
    ]);
  });

  test('templates: ssl on with the files, replicas verify-full, pg_hba hostssl with plain text refused first; pg_tls: false as before', () => {
    const on = clusterFixture({ members: [h1, h2], facts: running() });
    const off = clusterFixture({ members: [member('h1', { pg_tls: false }), member('h2', { pg_tls: false })], facts: running() });
    const text = (cc: typeof on, host: string, name: string) => configFiles(cc, host).find((f) => f.path.endsWith(`/${name}`))!.content;
    const p = pgTlsPaths(15, 'main');
    expect(text(on, 'h1', 'postgresql.conf')).toContain(`ssl = on\nssl_cert_file = '${p.cert}'\nssl_key_file = '${p.key}'\nssl_ca_file = '${p.ca}'\n`);
    expect(text(on, 'h2', 'postgresql.conf')).toMatch(/primary_conninfo = '.* sslmode=verify-full sslrootcert=\/etc\/postgresql\/15\/main\/root\.crt'/);
    expect(text(off, 'h1', 'postgresql.conf')).not.toMatch(/ssl|sslmode/);
    const rules = (cc: typeof on) =>
      text(cc, 'h1', 'pg_hba.conf')
        .split('\n')
        .filter((l) => l && !l.startsWith('#'))
        .map((l) => l.split(/\s+/).join(' '));
    // Local socket and loopback stay as they are (pgtasks' own sessions, PgBouncer's admin console use them).
    expect(rules(on).slice(0, 4)).toEqual(rules(off).slice(0, 4));
    expect(rules(on).filter((l) => /^host /.test(l))).toEqual(['host all all 127.0.0.1/32 scram-sha-256', 'host all all ::1/128 scram-sha-256']);
    expect(rules(off).filter((l) => l.startsWith('hostssl') || l.startsWith('hostnossl'))).toEqual([]);
    const [ini] = pgbouncerFiles(off.spec, 'h2', '10.0.0.1', [], off.templates);
    expect(ini!.content).toContain('auth_type = scram-sha-256');
    expect(ini!.content).not.toMatch(/tls/);
    expect(pgbouncerFiles(off.spec, 'h2', '10.0.0.1', [], off.templates)).toHaveLength(2);
  });

  test('a clone with pg_tls off has no TLS environment; with it, pg_basebackup verifies the primary', async () => {
    const facts = { h1: nodeFacts('PRIMARY'), h2: nodeFacts('EMPTY') };
    const command = async (tls: boolean) => {
      const cc = clusterFixture({ members: [member('h1', { pg_tls: tls }), member('h2', { pg_tls: tls })], facts });
      const plan = await planned(cloneStep(cc, 'h2'), fixtureView({ host: 'h2' }));
      return String((plan.actions as { command: string }[])[1]!.command);
    };
    expect(await command(true)).toContain(`PGSSLMODE=verify-full PGSSLROOTCERT=${CONF}/root.crt /usr/lib/postgresql/15/bin/pg_basebackup`);
    expect(await command(false)).not.toContain('PGSSL');
  });

  test('the connection line on creation: verify-full against the CA in the credentials folder (--json says where too)', () => {
    const spec = {
      ...clusterFixture({ members: [h1], facts: { h1: nodeFacts('EMPTY') } }).spec,
      credentialsDir: '/w/credentials',
      serviceName: 'main-db.example.com',
    };
    const cc = {
      spec,
      plan: { primary: { host: 'h1', address: '10.0.0.1' } },
      creds: { admin: 'x', replicator: 'y', created: true, dir: '/w/credentials/main' },
    };
    const text = announce(cc as never, false);
    expect(text.split('\n').filter((l) => l.startsWith('  psql '))).toEqual([
      '  psql "host=main-db.example.com port=5432 user=admin dbname=postgres sslmode=verify-full sslrootcert=/w/credentials/main/tls/ca.crt"',
      '  psql "host=10.0.0.1 port=5432 user=admin dbname=postgres sslmode=verify-full sslrootcert=/w/credentials/main/tls/ca.crt"',
    ]);
    expect(JSON.parse(announce(cc as never, true)).data).toMatchObject({ sslmode: 'verify-full', sslrootcert: '/w/credentials/main/tls/ca.crt' });
  });
});
