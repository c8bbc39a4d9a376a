import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { verifierMatches } from '../../src/cluster/scram.js';
import { shellQuote, sql, writeClusterInventory } from '../lab/cluster-inventory.js';
import { hostExec, labDown, labUp, type Lab } from '../lab/lab.js';
import { spawnPgtasks } from './helpers/cli-process.js';
import { startArgvSampler } from './helpers/argv-sampler.js';
import { labDescribe } from './helpers/lab-describe.js';
import { changedSteps, eventually, pgtasks } from './helpers/pgtasks.js';

/**
 * Credential rotation (issue 10) on the lab: admin, the replication role and pg_users users get new
 * passwords under a write load through PgBouncer with no failed attempt, replicas streaming all along
 * (sampled every 50 ms), sessions opened before the rotation still running (also when PgBouncer must
 * open new server connections for them), new passwords working and old ones refused for new logins,
 * no secret in any command line, log or output; a run killed between the commit and the file writes
 * is finished by one configure-cluster.
 */
const LAB = 'rotate';
const CLUSTER = 'rot';
const USERS = [{ name: 'app' }, { name: 'other' }];

/**
 * TLS to PgBouncer when it offers it (pg_tls: a client from another host must use it); the lab's CA is
 * not what is tested here, so the certificate is not verified.
 */
let ssl: false | { rejectUnauthorized: false } = false;

/**
 * The load: the application user `app` through PgBouncer on h2. A loop logging in afresh for every
 * insert (with the password it was started with) and persistent sessions inserting back to back;
 * every error kept. `hold` stops the inserts (sessions stay open).
 */
function startAppLoad(host: string, password: string, persistentCount = 3) {
  const failures: string[] = [];
  let attempts = 0;
  let committed = 0;
  let fresh = true;
  let running = true;
  let held = false;
  const config = { host, port: 6432, user: 'app', password, database: 'postgres', connectionTimeoutMillis: 10_000, ssl };
  const insert = async (c: pg.Client, kind: string) => {
    attempts++;
    try {
      await c.query('insert into rot_load (kind) values ($1)', [kind]);
      committed++;
    } catch (err) {
      failures.push(`${kind}: ${(err as Error).message}`);
    }
  };
  const freshLoop = (async () => {
    while (running && fresh) {
      const c = new pg.Client(config);
      c.on('error', () => {});
      try {
        await c.connect();
        await insert(c, 'fresh');
      } catch (err) {
        attempts++;
        failures.push(`fresh login: ${(err as Error).message}`);
      } finally {
        await c.end().catch(() => {});
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const persistent = Array.from({ length: persistentCount }, async (_, i) => {
    const c = new pg.Client(config);
    c.on('error', (err) => failures.push(`persistent ${i} connection: ${err.message}`));
    await c.connect();
    while (running) {
      if (!held) await insert(c, `persistent-${i}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    await c.end().catch(() => {});
  });
  return {
    stopFresh: async () => {
      fresh = false;
      await freshLoop;
    },
    hold: (on: boolean) => void (held = on),
    stats: () => ({ attempts, committed, failures: [...failures] }),
    async stop() {
      running = false;
      fresh = false;
      await Promise.all([freshLoop, ...persistent]);
      return { attempts, committed, failures };
    },
  };
}

/** pg_stat_replication on the primary every 50 ms through a session opened before the rotation (admin, through PgBouncer on h1). */
async function startReplicationSampler(host: string, password: string) {
  const c = new pg.Client({ host, port: 6432, user: 'admin', password, database: 'postgres', ssl });
  const errors: string[] = [];
  c.on('error', (err) => errors.push(err.message));
  await c.connect();
  const bad: string[] = [];
  let samples = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const { rows } = await c.query<{ application_name: string; state: string }>('select application_name, state from pg_stat_replication order by 1');
        samples++;
        const streaming = rows.filter((r) => r.state === 'streaming').length;
        if (streaming !== 2) bad.push(`${new Date().toISOString()}: ${JSON.stringify(rows)}`);
      } catch (err) {
        errors.push((err as Error).message);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await c.end().catch(() => {});
      return { samples, bad, errors };
    },
  };
}

labDescribe('rotate-passwords on the lab (real sshd, PostgreSQL, PgBouncer; 3 hosts, one sync replica)', () => {
  let lab: Lab;
  let inventory: string;
  const run = (...argv: string[]) => pgtasks(['-i', inventory, ...argv]);
  const address = (h: string) => lab.hosts.find((x) => x.name === h)!.address;
  const credentials = () => join(lab.dir, 'credentials', CLUSTER);
  const fileOf = (role: string) =>
    ['admin', 'replicator'].includes(role) ? join(credentials(), `${role}.password`) : join(credentials(), 'users', `${role}.password`);
  const passwordOf = (role: string) => readFileSync(fileOf(role), 'utf8').trim();
  /** psql as `user` through PgBouncer on `host` (6432), password in the environment. */
  const viaBouncer = async (user: string, password: string, host = 'h3', query = 'select current_user') => {
    const r = await hostExec(
      lab,
      host,
      `PGPASSWORD=${shellQuote(password)} psql -X -At -q -h ${address(host)} -p 6432 -U ${user} -d postgres -c ${shellQuote(query)}`,
    );
    return { code: r.code, out: r.stdout.trim(), err: r.stderr.trim() };
  };
  const verifierOf = (role: string) => sql(lab, 'h1', `select rolpassword from pg_authid where rolname = '${role}'`);
  const streamingCount = () => sql(lab, 'h1', "select count(*) from pg_stat_replication where state = 'streaming'");
  /** PostgreSQL's and PgBouncer's logs on every host, to look for secrets in. */
  const hostLogs = async () =>
    (await Promise.all(['h1', 'h2', 'h3'].map((h) => hostExec(lab, h, 'cat /var/log/postgresql/*.log 2>/dev/null')))).map((r) => r.stdout).join('\n');

  beforeAll(async () => {
    lab = await labUp({ hosts: 3, name: LAB });
    inventory = join(lab.dir, 'rotate.yml');
    writeClusterInventory(lab, inventory, { cluster: CLUSTER, syncReplicas: 1, clusterVars: { pg_users: USERS } });
    const r = await run('configure-cluster');
    expect(r.code, r.stdout).toBe(0);
    const ini = await hostExec(lab, 'h2', 'cat /etc/pgbouncer/pgbouncer.ini');
    if (/^client_tls_sslmode\s*=\s*(prefer|require|verify)/m.test(ini.stdout)) ssl = { rejectUnauthorized: false };
    await sql(
      lab,
      'h1',
      'create table if not exists rot_load (id bigserial primary key, kind text, at timestamptz default now()); grant insert, select on rot_load to app; grant usage on sequence rot_load_id_seq to app',
    );
    expect(await eventually(streamingCount, (n) => n === '2', 30_000)).toBe('2');
  });

  afterAll(async () => {
    if (!process.env.PGTASKS_KEEP_LAB) await labDown(LAB);
  });

  test('admin, replication and a pg_users user rotated under load through PgBouncer: 0 failed attempts, replicas streaming all along, new passwords work, old ones refused, no secret anywhere', async () => {
    const old = { admin: passwordOf('admin'), replicator: passwordOf('replicator'), other: passwordOf('other'), app: passwordOf('app') };
    // A session of `other` opened before the rotation, through PgBouncer on h2, idle during it.
    const otherSession = new pg.Client({ host: address('h2'), port: 6432, user: 'other', password: old.other, database: 'postgres', ssl });
    otherSession.on('error', () => {});
    await otherSession.connect();
    expect((await otherSession.query('select current_user as u')).rows[0].u).toBe('other');

    const load = startAppLoad(address('h2'), old.app);
    const replication = await startReplicationSampler(address('h1'), old.admin);
    await new Promise((r) => setTimeout(r, 1000));
    const argv = startArgvSampler();
    const r = await run('rotate-passwords', '--cluster', CLUSTER, '--admin', '--replication', '--user', 'other');
    const cmdlines = await argv.stop();
    await new Promise((r) => setTimeout(r, 1500)); // the load and the sampler go on after the rotation
    const rep = await replication.stop();
    const result = await load.stop();
    expect(r.code, r.stdout).toBe(0);

    const fresh = { admin: passwordOf('admin'), replicator: passwordOf('replicator'), other: passwordOf('other') };
    for (const role of ['admin', 'replicator', 'other'] as const) {
      expect(fresh[role]).not.toBe(old[role]);
      expect((statSync(fileOf(role)).mode & 0o777).toString(8)).toBe('600');
      expect(existsSync(`${fileOf(role)}.next`)).toBe(false);
      expect(verifierMatches(await verifierOf(role), fresh[role])).toBe(true);
    }
    expect(passwordOf('app')).toBe(old.app); // not asked for

    const summary = r.events.find((e) => e.type === 'result' && e.task === 'rotate-passwords') as { data: Record<string, unknown>; text: string } | undefined;
    console.log(
      `rotation: ${JSON.stringify(summary?.data.windows)}; load ${result.attempts} attempts, ${result.committed} committed; ${rep.samples} replication samples`,
    );
    expect(summary?.data.rotated).toEqual([
      { role: 'replicator', passwordFile: fileOf('replicator') },
      { role: 'admin', passwordFile: fileOf('admin') },
      { role: 'other', passwordFile: fileOf('other') },
    ]);

    expect(result.failures).toEqual([]);
    expect(result.attempts).toBeGreaterThan(100);
    expect(rep.errors).toEqual([]);
    expect(rep.bad).toEqual([]);
    expect(rep.samples).toBeGreaterThan(20);

    // The session of `other` opened before: it goes on, also when PgBouncer must log in to PostgreSQL
    // again for it (its server connections are gone: PgBouncer uses the keys of the newest login).
    await sql(lab, 'h1', "select count(pg_terminate_backend(pid)) from pg_stat_activity where usename = 'other' and state = 'idle'");
    await new Promise((r) => setTimeout(r, 300));
    expect((await otherSession.query('select current_user as u')).rows[0].u).toBe('other');
    await otherSession.end();

    // New logins: the new passwords work through PgBouncer, the old ones are refused.
    for (const role of ['admin', 'other'] as const) {
      expect(await viaBouncer(role, fresh[role])).toMatchObject({ code: 0, out: role });
      const refused = await viaBouncer(role, old[role]);
      expect(refused.code).not.toBe(0);
      expect(refused.err).toMatch(/password authentication failed|SASL authentication failed/);
    }
    // The replicas reconnect with the new replication password (a walreceiver reads pgpass when it connects).
    await sql(lab, 'h1', 'select pg_terminate_backend(pid) from pg_stat_replication');
    expect(await eventually(streamingCount, (n) => n === '2', 20_000)).toBe('2');

    // No secret on any command line, in the output, or in PostgreSQL's and PgBouncer's logs.
    const secrets = [...Object.values(old), ...Object.values(fresh)];
    expect([...cmdlines].filter((c) => secrets.some((p) => c.includes(p)) || c.includes('SCRAM-SHA-256$'))).toEqual([]);
    expect(cmdlines.size).toBeGreaterThan(20);
    for (const p of secrets) expect(r.stdout).not.toContain(p);
    expect(r.stdout).not.toContain('SCRAM-SHA-256$');
    const logs = await hostLogs();
    for (const p of secrets) expect(logs).not.toContain(p);

    // The credentials folder is what the cluster has: configure-cluster changes nothing.
    const again = await run('configure-cluster');
    expect(again.code, again.stdout).toBe(0);
    expect(changedSteps(again)).toEqual([]);
  });

  test("the load's own user rotated: sessions opened before keep working (new server connections included); new logins need the new password", async () => {
    const old = passwordOf('app');
    const load = startAppLoad(address('h2'), old);
    await new Promise((r) => setTimeout(r, 500));
    await load.stopFresh(); // a loop logging in with the old password would be refused after the rotation: expected, not measured
    const r = await run('rotate-passwords', '--cluster', CLUSTER, '--user', 'app');
    expect(r.code, r.stdout).toBe(0);
    await new Promise((r) => setTimeout(r, 500));
    // Force new server connections for the sessions already open: inserts held, app's idle server connections ended.
    load.hold(true);
    await new Promise((r) => setTimeout(r, 100));
    await sql(lab, 'h1', "select count(pg_terminate_backend(pid)) from pg_stat_activity where usename = 'app' and state = 'idle'");
    await new Promise((r) => setTimeout(r, 300));
    const before = load.stats().committed;
    load.hold(false);
    await new Promise((r) => setTimeout(r, 1000));
    const result = await load.stop();
    expect(result.failures).toEqual([]);
    expect(result.committed).toBeGreaterThan(before + 10);
    const fresh = passwordOf('app');
    expect(await viaBouncer('app', fresh, 'h2')).toMatchObject({ code: 0, out: 'app' });
    expect((await viaBouncer('app', old, 'h2')).code).not.toBe(0);
  });

  test('killed between the ALTER ROLE commit and the file writes: one configure-cluster finishes the rotation (pgtasks logs in, replicas stream, new passwords work)', async () => {
    const old = { admin: passwordOf('admin'), replicator: passwordOf('replicator'), other: passwordOf('other') };
    process.env.PGTASKS_TEST_ROTATE_HOLD_MS = '30000';
    let killed;
    try {
      killed = spawnPgtasks(['-i', inventory, 'rotate-passwords', '--cluster', CLUSTER, '--admin', '--replication', '--user', 'other']);
    } finally {
      delete process.env.PGTASKS_TEST_ROTATE_HOLD_MS;
    }
    const seen = await killed.waitFor((e) => e.type === 'message' && /holding/.test(e.text), 60_000);
    expect(seen, killed.events.map((e) => JSON.stringify(e)).join('\n')).toBeDefined();
    killed.kill();
    expect((await killed.done).signal).toBe('SIGKILL');

    // PostgreSQL has the new verifiers; the credentials folder still has the old files and the new ones as .next.
    const next = Object.fromEntries((['admin', 'replicator', 'other'] as const).map((role) => [role, readFileSync(`${fileOf(role)}.next`, 'utf8').trim()]));
    for (const role of ['admin', 'replicator', 'other'] as const) {
      expect(passwordOf(role)).toBe(old[role]);
      expect(verifierMatches(await verifierOf(role), next[role]!)).toBe(true);
    }
    expect(await streamingCount()).toBe('2'); // walreceivers already connected keep streaming

    const r = await run('configure-cluster');
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/an interrupted password rotation of admin is finished/);
    for (const role of ['admin', 'replicator', 'other'] as const) {
      expect(passwordOf(role)).toBe(next[role]);
      expect(existsSync(`${fileOf(role)}.next`)).toBe(false);
      expect((statSync(fileOf(role)).mode & 0o777).toString(8)).toBe('600');
    }
    for (const p of [...Object.values(old), ...Object.values(next)]) expect(r.stdout).not.toContain(p);
    expect(await viaBouncer('admin', next.admin!)).toMatchObject({ code: 0, out: 'admin' });
    expect(await viaBouncer('other', next.other!)).toMatchObject({ code: 0, out: 'other' });
    expect((await viaBouncer('admin', old.admin)).code).not.toBe(0);
    // pgtasks logs in with the admin password (info-list reads PostgreSQL and PgBouncer as admin).
    const info = await run('info-list');
    expect(info.code, info.stdout).toBe(0);
    // The replicas reconnect with the pgpass configure-cluster wrote.
    await sql(lab, 'h1', 'select pg_terminate_backend(pid) from pg_stat_replication');
    expect(await eventually(streamingCount, (n) => n === '2', 20_000)).toBe('2');
    expect(changedSteps(await run('configure-cluster'))).toEqual([]);
  });

  test('a password file changed by hand: configure-cluster converges to it (PostgreSQL, pgpass, PgBouncer)', async () => {
    writeFileSync(fileOf('other'), 'hand-written-password-1\n', { mode: 0o600 });
    writeFileSync(fileOf('replicator'), 'hand-written-password-2\n', { mode: 0o600 });
    const r = await run('configure-cluster');
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).not.toContain('hand-written-password');
    expect(verifierMatches(await verifierOf('other'), 'hand-written-password-1')).toBe(true);
    expect(verifierMatches(await verifierOf('replicator'), 'hand-written-password-2')).toBe(true);
    expect(await viaBouncer('other', 'hand-written-password-1')).toMatchObject({ code: 0, out: 'other' });
    await sql(lab, 'h1', 'select pg_terminate_backend(pid) from pg_stat_replication');
    expect(await eventually(streamingCount, (n) => n === '2', 20_000)).toBe('2');
    expect(changedSteps(await run('configure-cluster'))).toEqual([]);
  });
});
