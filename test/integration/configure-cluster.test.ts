import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startBind, type Bind } from '../lab/bind.js';
import { addHosts, hostExec, labDown, labUp, startHost, stopHost, wipeHost, type Lab } from '../lab/lab.js';
import { cli } from '../../src/cli/entry.js';
import { sql, writeClusterInventory } from '../lab/cluster-inventory.js';
import { changedSteps, eventually, pgtasks } from './helpers/pgtasks.js';
import { labDescribe } from './helpers/lab-describe.js';

const LAB = 'cc';
const NAME = 'orders-db.lab.pgtasks.test';

labDescribe('configure-cluster on the lab (real sshd, PostgreSQL, BIND)', () => {
  let lab: Lab;
  let bind: Bind;
  let inventory: string;
  const writeInventory = (o: Parameters<typeof writeClusterInventory>[2] = {}) =>
    writeClusterInventory(lab, inventory, {
      cluster: 'orders',
      serviceName: NAME,
      registry: { provider: 'dns', server: '127.0.0.1', port: bind.port, zone: bind.zone, key_file: bind.keyFile, ttl: 5 },
      ...o,
    });
  const dig = () => execFileSync('dig', ['@127.0.0.1', '-p', String(bind.port), '+short', NAME, 'A'], { encoding: 'utf8' }).trim();
  const address = (host: string) => lab.hosts.find((h) => h.name === host)!.address;
  const run = (...argv: string[]) => pgtasks(['-i', inventory, ...argv]);
  const textRun = async (...argv: string[]) => {
    let out = '';
    await cli(['-i', inventory, ...argv], { stdout: (t) => void (out += t), stderr: (t) => void (out += t), isTTY: false, env: {} });
    return out;
  };

  beforeAll(async () => {
    lab = await labUp({ hosts: 3, name: LAB });
    bind = await startBind({ port: 15355, dir: join(lab.dir, 'bind') });
    inventory = join(lab.dir, 'orders.yml');
    writeInventory();
  });

  afterAll(async () => {
    await bind?.stop();
    await labDown(LAB);
  });

  test('bootstraps 1 primary, 1 sync and 1 async replica, and registers the name', async () => {
    const r = await run('configure-cluster');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const result = r.events.find((e) => e.type === 'result');
    expect(result && result.type === 'result' && result.data).toEqual({
      cluster: 'orders',
      host: NAME,
      port: 5432,
      user: 'admin',
      dbname: 'postgres',
      passwordFile: join(lab.dir, 'credentials', 'orders', 'admin.password'),
      // pg_tls (default on): verified TLS against the cluster's CA.
      sslmode: 'verify-full',
      sslrootcert: join(lab.dir, 'credentials', 'orders', 'tls', 'ca.crt'),
    });
    expect(await sql(lab, 'h1', 'select pg_is_in_recovery()')).toBe('f');
    const repl = await eventually(
      () => sql(lab, 'h1', "select application_name || ':' || state || ':' || sync_state from pg_stat_replication order by 1"),
      (v) => v === 'h2:streaming:sync\nh3:streaming:potential',
    );
    expect(repl).toBe('h2:streaming:sync\nh3:streaming:potential');
    expect(dig()).toBe(address('h1'));
    const pw = join(lab.dir, 'credentials', 'orders', 'admin.password');
    expect((statSync(pw).mode & 0o777).toString(8)).toBe('600');
    expect((statSync(join(lab.dir, 'credentials', 'orders')).mode & 0o777).toString(8)).toBe('700');
    // The password is in no machine-readable output (the human announcement shows it once) and in no command sent.
    const password = readFileSync(pw, 'utf8').trim();
    expect(r.stdout).not.toContain(password);
    const ps = await hostExec(lab, 'h1', 'cat /etc/postgresql/15/orders/postgresql.conf /var/lib/postgresql/15/orders/postgresql.auto.conf');
    expect(ps.stdout).not.toContain(password);
  });

  test('rows written on the primary appear on both replicas', async () => {
    await sql(lab, 'h1', 'create table t (id int primary key); insert into t select generate_series(1, 100)');
    for (const h of ['h2', 'h3']) {
      expect(
        await eventually(
          () => sql(lab, h, 'select count(*) from t').catch(() => '0'),
          (v) => v === '100',
        ),
      ).toBe('100');
    }
  });

  test('a second run changes nothing', async () => {
    const r = await run('configure-cluster');
    expect(r.code).toBe(0);
    expect(changedSteps(r)).toEqual([]);
    for (const h of ['h1', 'h2', 'h3']) expect(r.recap[h]).toMatchObject({ changed: 0, failed: 0, unreachable: 0 });
  });

  test('info-list shows 1 primary, 2 streaming replicas (one sync), IN SYNC; --json agrees', async () => {
    const r = await run('info-list');
    expect(r.code).toBe(0);
    const result = r.events.find((e) => e.type === 'result');
    const clusters = (result && result.type === 'result' ? result.data : []) as {
      cluster: string;
      summary: { state: string };
      members: { host: string; role: string; state: string; upstream?: string; sync?: string }[];
    }[];
    expect(clusters.map((c) => [c.cluster, c.summary.state])).toEqual([['orders', 'IN SYNC']]);
    expect(clusters[0]!.members.map((m) => [m.host, m.role, m.state, m.upstream ?? '-', m.sync ?? '-'])).toEqual([
      ['h1', 'primary', 'running', '-', '-'],
      ['h2', 'replica', 'running', 'h1', 'sync'],
      ['h3', 'replica', 'running', 'h1', 'potential'],
    ]);
    const text = await textRun('info-list');
    expect(text).toMatch(/CLUSTER orders {2}IN SYNC/);
    expect(text).toMatch(/h2 +replica +running +h1 /);
    expect(text).not.toMatch(/\x1b\[/);
  });

  test('--check on a changed inventory shows the plan and changes nothing', async () => {
    writeInventory({ clusterVars: { pg_parameters: { work_mem: '8MB' } } });
    const before = await sql(lab, 'h1', 'show work_mem');
    const r = await run('--check', 'configure-cluster');
    expect(r.code).toBe(0);
    expect(changedSteps(r).join('\n')).toMatch(/h1: config: files: .*postgresql.conf/);
    expect(await sql(lab, 'h1', 'show work_mem')).toBe(before);
    const conf = await hostExec(lab, 'h1', 'grep -c work_mem /etc/postgresql/15/orders/postgresql.conf || true');
    expect(conf.stdout.trim()).toBe('0');
    // Applying it is a reload, not a restart.
    const pid = await sql(lab, 'h1', 'select pg_postmaster_start_time()');
    const applied = await run('configure-cluster');
    expect(applied.code).toBe(0);
    expect(await sql(lab, 'h1', 'show work_mem')).toBe('8MB');
    expect(await sql(lab, 'h1', 'select pg_postmaster_start_time()')).toBe(pid);
  });

  test('a setting that needs a restart gets one, on every member, and is then in effect', async () => {
    writeInventory({ clusterVars: { pg_parameters: { work_mem: '8MB', max_wal_senders: 12 } } });
    const started = await sql(lab, 'h1', 'select pg_postmaster_start_time()');
    const r = await run('configure-cluster');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/restarting PostgreSQL: max_wal_senders need/);
    for (const h of ['h1', 'h2', 'h3']) expect(await sql(lab, h, 'show max_wal_senders')).toBe('12');
    expect(await sql(lab, 'h1', 'select pg_postmaster_start_time()')).not.toBe(started);
    expect(changedSteps(await run('configure-cluster'))).toEqual([]);
  });

  test('a 4th host in the inventory becomes a new streaming replica', async () => {
    lab = await addHosts(lab, 1);
    writeInventory({ clusterVars: { pg_parameters: { work_mem: '8MB', max_wal_senders: 12 } } });
    const r = await run('configure-cluster');
    expect(r.stderr).toBe('');
    expect(r.code, r.stdout).toBe(0);
    expect(changedSteps(r).join('\n')).toMatch(/h4: clone/);
    expect(
      await eventually(
        () => sql(lab, 'h4', 'select count(*) from t').catch(() => ''),
        (v) => v === '100',
      ),
    ).toBe('100');
    expect(await sql(lab, 'h1', "select state from pg_stat_replication where application_name = 'h4'")).toBe('streaming');
  });

  test('an unreachable member: refused, nothing changed', async () => {
    await stopHost(lab, 'h3');
    try {
      writeInventory({ clusterVars: { pg_parameters: { work_mem: '16MB', max_wal_senders: 12 } } });
      const r = await run('configure-cluster');
      expect(r.code).not.toBe(0);
      expect(r.stdout).toMatch(/REFUSED: cluster orders: h3 is unreachable/);
      expect(changedSteps(r)).toEqual([]);
      expect(await sql(lab, 'h1', 'show work_mem')).toBe('8MB');
      const info = await run('info-list');
      expect(info.code).not.toBe(0);
      expect(JSON.stringify(info.events)).toMatch(/DEGRADED: h3 unreachable/);
    } finally {
      await startHost(lab, 'h3');
    }
  });

  test('primary host lost with its data: the most advanced replica takes over, the name follows, no row lost', async () => {
    writeInventory({ clusterVars: { pg_parameters: { work_mem: '8MB', max_wal_senders: 12 } } });
    // h3 came back from a power-off: converge first so it streams again.
    const converged = await run('configure-cluster');
    expect(converged.code, converged.stdout).toBe(0);
    await sql(lab, 'h1', 'insert into t select generate_series(101, 200)'); // committed with the sync replica (h2)
    await stopHost(lab, 'h1');
    await wipeHost(lab, 'h1');
    await startHost(lab, 'h1');
    const r = await run('configure-cluster');
    expect(r.stderr).toBe('');
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/promoting h2/);
    expect(await sql(lab, 'h2', 'select pg_is_in_recovery()')).toBe('f');
    expect(await sql(lab, 'h2', 'select count(*) from t')).toBe('200');
    expect(dig()).toBe(address('h2'));
    // The wiped host is rebuilt as a replica of the new primary; everyone streams from h2.
    expect(
      await eventually(
        () => sql(lab, 'h1', 'select count(*) from t').catch(() => ''),
        (v) => v === '200',
      ),
    ).toBe('200');
    const streams = await eventually(
      () => sql(lab, 'h2', "select string_agg(application_name, ',' order by application_name) from pg_stat_replication where state = 'streaming'"),
      (v) => v === 'h1,h3,h4',
    );
    expect(streams).toBe('h1,h3,h4');
    const again = await run('configure-cluster');
    expect(changedSteps(again)).toEqual([]);
  });

  test('pg_state: absent deactivates a replica: stopped, data kept aside, slot dropped; a re-run changes nothing', async () => {
    writeInventory({ clusterVars: { pg_parameters: { work_mem: '8MB', max_wal_senders: 12 } }, hostVars: { h4: { pg_state: 'absent' } } });
    const r = await run('configure-cluster');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(changedSteps(r).join('\n')).toMatch(
      /h4: deactivate: stop, disable, move \/var\/lib\/postgresql\/15\/orders to \/var\/lib\/postgresql\/15\/orders\.deactivated-/,
    );
    const h4 = await hostExec(lab, 'h4', 'ls /var/lib/postgresql/15; cat /etc/postgresql/15/orders/start.conf; pgrep -c postgres || true');
    expect(h4.stdout).toMatch(/^orders\.deactivated-\d{8}T\d{6}\ndisabled\n0\n$/);
    expect(await sql(lab, 'h2', "select count(*) from pg_replication_slots where slot_name = 'h4'")).toBe('0');
    expect(changedSteps(await run('configure-cluster'))).toEqual([]);
    const info = await run('info-list');
    expect(info.code).toBe(0);
  });
});
