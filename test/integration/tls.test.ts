import { execFile, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startBind, type Bind } from '../lab/bind.js';
import { sql, writeClusterInventory } from '../lab/cluster-inventory.js';
import { hostExec, labDown, labUp, type Lab } from '../lab/lab.js';
import { changedSteps, eventually, pgtasks, type CliResult } from './helpers/pgtasks.js';
import { labDescribe } from './helpers/lab-describe.js';

/**
 * TLS by default (pg_tls, issue 10) on the lab: a client verifies the primary by the service name
 * (sslmode=verify-full against the CA in the credentials folder), plain text from another machine is
 * refused by PostgreSQL and PgBouncer, replication and PgBouncer's server connections run over TLS, a
 * certificate close to its end is renewed by a re-run with a reload (the postmaster keeps running), a
 * re-run changes nothing, and no private key appears in any output.
 */
const LAB = 'tls';
const CLUSTER = 'sec';
const NAME = 'sec-db.lab.pgtasks.test';
const CONF = `/etc/postgresql/15/${CLUSTER}`;
const run = promisify(execFile);

labDescribe('TLS by default on the lab (real sshd, PostgreSQL, PgBouncer, BIND)', () => {
  let lab: Lab;
  let bind: Bind;
  let inventory: string;
  const outputs: string[] = [];
  const cli = async (...argv: string[]): Promise<CliResult> => {
    const r = await pgtasks(['-i', inventory, ...argv]);
    outputs.push(r.stdout, r.stderr);
    return r;
  };
  const address = (h: string) => lab.hosts.find((x) => x.name === h)!.address;
  const tlsDir = () => join(lab.dir, 'credentials', CLUSTER, 'tls');
  const ca = () => join(tlsDir(), 'ca.crt');
  const password = () => readFileSync(join(lab.dir, 'credentials', CLUSTER, 'admin.password'), 'utf8').trim();
  const dig = () => execFileSync('dig', ['@127.0.0.1', '-p', String(bind.port), '+short', NAME, 'A'], { encoding: 'utf8' }).trim();
  /** psql from this machine (another host than the members), the password in the environment. */
  const psql = async (conninfo: string, query: string) => {
    try {
      const r = await run('psql', ['-X', '-At', '-d', conninfo, '-c', query], { env: { ...process.env, PGPASSWORD: password(), PGCONNECT_TIMEOUT: '5' } });
      return { code: 0, out: r.stdout.trim(), err: '' };
    } catch (err) {
      const e = err as { code?: number; stderr?: string };
      return { code: e.code ?? 1, out: '', err: (e.stderr ?? '').trim() };
    }
  };
  /** The certificate a member's PostgreSQL presents (openssl speaks PostgreSQL's SSLRequest): its end, as openssl says it. */
  const servedEnd = async (host: string) => {
    const r = await hostExec(
      lab,
      host,
      `openssl s_client -starttls postgres -connect ${address(host)}:5432 </dev/null 2>/dev/null | openssl x509 -noout -enddate | cut -d= -f2`,
    );
    return new Date(r.stdout.trim());
  };
  const startTime = (host: string) => sql(lab, host, 'select pg_postmaster_start_time()');

  beforeAll(async () => {
    lab = await labUp({ hosts: 3, name: LAB });
    bind = await startBind({ port: 15361, dir: join(lab.dir, 'bind') });
    inventory = join(lab.dir, 'sec.yml');
    writeClusterInventory(lab, inventory, {
      cluster: CLUSTER,
      serviceName: NAME,
      registry: { provider: 'dns', server: '127.0.0.1', port: bind.port, zone: bind.zone, key_file: bind.keyFile, ttl: 5 },
      // This machine is a client (the lab's gateway): a plain `host` rule, as a user writes one. With pg_tls it admits TLS only.
      clusterVars: { pg_hba: [{ address: `${lab.gateway}/32`, method: 'scram-sha-256' }] },
    });
    const r = await cli('configure-cluster');
    expect(r.code, r.stdout).toBe(0);
    const result = r.events.find((e) => e.type === 'result');
    expect(result && result.type === 'result' && result.data).toMatchObject({ host: NAME, sslmode: 'verify-full', sslrootcert: ca() });
  });

  afterAll(async () => {
    await bind?.stop();
    if (!process.env.PGTASKS_KEEP_LAB) await labDown(LAB);
  });

  test('verify-full by the service name works (the name the certificate carries, at the address BIND gives); by a member address and through PgBouncer too', async () => {
    const at = dig();
    expect(at).toBe(address('h1'));
    // host= is the name verified against the certificate, hostaddr= where BIND says it is (this machine's resolver does not know the lab's zone).
    const byName = await psql(
      `host=${NAME} hostaddr=${at} port=5432 user=admin dbname=postgres sslmode=verify-full sslrootcert=${ca()}`,
      'select ssl from pg_stat_ssl where pid = pg_backend_pid()',
    );
    expect(byName).toEqual({ code: 0, out: 't', err: '' });
    const byAddress = await psql(`host=${address('h1')} port=5432 user=admin dbname=postgres sslmode=verify-full sslrootcert=${ca()}`, 'select 1');
    expect(byAddress).toEqual({ code: 0, out: '1', err: '' });
    // A name the certificate does not carry is refused by the client: verify-full means something.
    const wrong = await psql(`host=elsewhere.example hostaddr=${at} port=5432 user=admin dbname=postgres sslmode=verify-full sslrootcert=${ca()}`, 'select 1');
    expect(wrong.code).not.toBe(0);
    expect(wrong.err).toMatch(/does not match host name "elsewhere\.example"/);
    // Through PgBouncer on a replica's host: TLS to the client, verified by h3's address.
    const bouncer = await psql(
      `host=${address('h3')} port=6432 user=admin dbname=postgres sslmode=verify-full sslrootcert=${ca()}`,
      'select inet_server_addr()',
    );
    expect(bouncer).toEqual({ code: 0, out: address('h1'), err: '' });
  });

  test('plain text from another machine is refused, by PostgreSQL and by PgBouncer; on the host itself (loopback, socket) it still works', async () => {
    const pg = await psql(`host=${address('h1')} port=5432 user=admin dbname=postgres sslmode=disable`, 'select 1');
    expect(pg.code).not.toBe(0);
    expect(pg.err).toMatch(/pg_hba\.conf rejects connection for host "[\d.]+", user "admin", database "postgres", no encryption/);
    const replication = await psql(`host=${address('h1')} port=5432 user=replicator dbname=replication replication=true sslmode=disable`, 'IDENTIFY_SYSTEM');
    expect(replication.err).toMatch(/rejects (replication )?connection .*no encryption/);
    const bouncer = await psql(`host=${address('h3')} port=6432 user=admin dbname=postgres sslmode=disable`, 'select 1');
    expect(bouncer.code).not.toBe(0);
    expect(bouncer.err).toMatch(/server closed the connection|login rejected|rejected/i);
    // On h1 itself, loopback: PgBouncer's admin console and PostgreSQL, plain text, as pgtasks' own sessions use them.
    const local = await hostExec(
      lab,
      'h1',
      `PGPASSWORD='${password()}' psql -X -At -d 'host=127.0.0.1 port=6432 user=admin dbname=pgbouncer sslmode=disable' -c 'show version' && PGPASSWORD='${password()}' psql -X -At -d 'host=127.0.0.1 port=5432 user=admin dbname=postgres sslmode=disable' -c 'select ssl from pg_stat_ssl where pid = pg_backend_pid()'`,
    );
    expect(local.code, local.stderr).toBe(0);
    expect(local.stdout.trim().split('\n').pop()).toBe('f');
  });

  test('replication runs over TLS (pg_stat_ssl of the walsenders), and so do PgBouncer’s server connections to the primary', async () => {
    const walsenders = await eventually(
      () => sql(lab, 'h1', "select count(*) || ':' || bool_and(s.ssl) from pg_stat_replication r join pg_stat_ssl s using (pid)"),
      (v) => v === '2:true',
    );
    expect(walsenders).toBe('2:true');
    expect(
      await psql(`host=${address('h3')} port=6432 user=admin dbname=postgres sslmode=require`, 'select ssl from pg_stat_ssl where pid = pg_backend_pid()'),
    ).toEqual({ code: 0, out: 't', err: '' });
  });

  test('a certificate 10 days from its end is renewed by a re-run with a reload: the postmaster keeps running, replication streams on', async () => {
    // h2's pair made again by hand with the cluster's CA, for 10 days, the same names: on the host and in the credentials folder.
    const san = execFileSync('openssl', ['x509', '-noout', '-ext', 'subjectAltName', '-in', join(tlsDir(), 'h2.server.crt')], { encoding: 'utf8' })
      .split('\n')[1]!
      .trim()
      .replace(/IP Address:/g, 'IP:');
    const ext = join(tlsDir(), 'short.ext');
    writeFileSync(
      ext,
      `basicConstraints = CA:false\nkeyUsage = critical,digitalSignature,keyEncipherment\nextendedKeyUsage = serverAuth\nsubjectAltName = ${san}\n`,
    );
    const [key, csr, crt] = ['h2.server.key', 'short.csr', 'h2.server.crt'].map((f) => join(tlsDir(), f)) as [string, string, string];
    execFileSync(
      'openssl',
      ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', csr, '-subj', '/CN=h2'],
      {
        stdio: 'ignore',
      },
    );
    execFileSync(
      'openssl',
      ['x509', '-req', '-in', csr, '-CA', ca(), '-CAkey', join(tlsDir(), 'ca.key'), '-set_serial', '0x1234', '-days', '10', '-out', crt, '-extfile', ext],
      {
        stdio: 'ignore',
      },
    );
    for (const [local, remote] of [
      [crt, `${CONF}/server.crt`],
      [key, `${CONF}/server.key`],
    ] as const) {
      const put = await hostExec(
        lab,
        'h2',
        `cat > ${remote} <<'EOF'\n${readFileSync(local, 'utf8')}EOF\nchown postgres:postgres ${remote}; chmod 0600 ${CONF}/server.key`,
      );
      expect(put.code, put.stderr).toBe(0);
    }
    await sql(lab, 'h2', 'select pg_reload_conf()');
    const soon = await eventually(
      () => servedEnd('h2'),
      (d) => d.getTime() - Date.now() < 11 * 86_400_000,
    );
    expect(soon.getTime() - Date.now()).toBeLessThan(11 * 86_400_000);
    const started = await startTime('h2');

    const r = await cli('-v', 'configure-cluster');
    expect(r.code, r.stdout).toBe(0);
    const changed = changedSteps(r);
    expect(changed).toContainEqual(
      expect.stringMatching(
        new RegExp(`^h2: config: files: renew the server certificate: it expires on \\d{4}-\\d\\d-\\d\\d, in 9 day\\(s\\) \\(renewed within 30\\)`),
      ),
    );
    expect(changed).toContain('h2: service: reload configuration');
    expect(changed.filter((l) => /restart/i.test(l))).toEqual([]);
    const renewed = await eventually(
      () => servedEnd('h2'),
      (d) => d.getTime() - Date.now() > 800 * 86_400_000,
    );
    expect(renewed.getTime() - Date.now()).toBeGreaterThan(800 * 86_400_000);
    expect(await startTime('h2')).toBe(started);
    expect(
      await eventually(
        () => sql(lab, 'h1', "select count(*) from pg_stat_replication where state = 'streaming'"),
        (v) => v === '2',
      ),
    ).toBe('2');
  });

  test('a re-run changes nothing; no private key in any output of this file (-v included)', async () => {
    const again = await cli('configure-cluster');
    expect(again.code, again.stdout).toBe(0);
    expect(changedSteps(again)).toEqual([]);
    const keys = ['ca.key', 'h1.server.key', 'h2.server.key', 'h3.server.key'].map((f) => readFileSync(join(tlsDir(), f), 'utf8'));
    const bodies = keys.flatMap((k) => k.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----')));
    expect(bodies.length).toBeGreaterThan(4);
    const all = outputs.join('\n');
    expect(all).not.toContain('PRIVATE KEY');
    for (const b of bodies) expect(all).not.toContain(b);
  });
});
