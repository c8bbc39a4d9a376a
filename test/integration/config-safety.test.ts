import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { sql, writeClusterInventory } from '../lab/cluster-inventory.js';
import { hostExec, labDown, labUp, type Lab } from '../lab/lab.js';
import { LAB_TLS, startLoad } from '../lab/load.js';
import { changedSteps, eventually, pgtasks, type CliResult } from './helpers/pgtasks.js';
import { labDescribe } from './helpers/lab-describe.js';

const LAB = 'cfg';
const HOSTS = ['h1', 'h2', 'h3'];

/**
 * pg_parameters that PostgreSQL would not take never reach a running server (issue 7, item 7), and
 * settings that need a restart restart in an order the replicas accept, the primary behind a PgBouncer
 * PAUSE (item 8). One 3-host cluster (h1 primary) for the whole file; the tests run in order.
 */
labDescribe('configuration safety: parameter checks and ordered restarts (lab)', () => {
  let lab: Lab;
  let inventory: string;
  let password: string;
  let parameters: Record<string, unknown> = { work_mem: '4MB' };
  const write = (params: Record<string, unknown>, hostVars: Record<string, Record<string, unknown>> = {}) =>
    writeClusterInventory(lab, inventory, { cluster: 'cfg', syncReplicas: 1, clusterVars: { pg_parameters: params }, hostVars });
  const run = (...argv: string[]) => pgtasks(['-i', inventory, ...argv]);
  const address = (h: string) => lab.hosts.find((x) => x.name === h)!.address;
  const confSums = async () => Promise.all(HOSTS.map(async (h) => (await hostExec(lab, h, 'sha256sum /etc/postgresql/15/cfg/*.conf')).stdout));
  const startTimes = async () =>
    Object.fromEntries(await Promise.all(HOSTS.map(async (h) => [h, await sql(lab, h, 'select pg_postmaster_start_time()')] as const)));
  const restarted = (r: CliResult) => r.events.flatMap((e) => (e.type === 'step' && e.step === 'restart' && e.status === 'changed' ? [e.host] : []));
  const messages = (r: CliResult) =>
    r.events.flatMap((e) => (e.type === 'message' ? [e.text] : e.type === 'step' && e.message ? [`${e.host}: ${e.step}: ${e.message}`] : [])).join('\n');
  const LOG = '/var/log/postgresql/postgresql-15-cfg.log';
  /** Where each replica's log ends now: replicasHealthy reads only what a test's run added. */
  const logEnds = async () =>
    Object.fromEntries(await Promise.all(['h2', 'h3'].map(async (h) => [h, Number((await hostExec(lab, h, `stat -c %s ${LOG}`)).stdout.trim())] as const)));
  const replicasHealthy = async (since: Record<string, number>) => {
    const streaming = await eventually(
      () => sql(lab, 'h1', "select string_agg(application_name, ',' order by application_name) from pg_stat_replication where state = 'streaming'"),
      (v) => v === 'h2,h3',
    );
    expect(streaming).toBe('h2,h3');
    for (const h of ['h2', 'h3']) {
      expect(await sql(lab, h, 'select pg_get_wal_replay_pause_state()')).toBe('not paused');
      const log = await hostExec(lab, h, `tail -c +${since[h]! + 1} ${LOG} | grep -c -e "insufficient parameter settings" -e "recovery has paused" || true`);
      expect(log.stdout.trim()).toBe('0');
    }
  };

  beforeAll(async () => {
    lab = await labUp({ hosts: 3, name: LAB });
    inventory = join(lab.dir, 'cfg.yml');
    write(parameters);
    const r = await run('configure-cluster');
    expect(r.code, r.stdout).toBe(0);
    password = readFileSync(join(lab.dir, 'credentials', 'cfg', 'admin.password'), 'utf8').trim();
    await sql(lab, 'h1', 'create table load (id int primary key, at timestamptz default now())');
  });

  afterAll(async () => {
    if (!process.env.PGTASKS_KEEP_LAB) await labDown(LAB);
  });

  test('a typo in pg_parameters is refused with did-you-mean before any host changes (--check too)', async () => {
    const before = await confSums();
    // The typo is on h3 only, while a valid change would rewrite every host's postgresql.conf.
    write({ ...parameters, work_mem: '8MB' }, { h3: { pg_parameters: { ...parameters, work_mem: '8MB', work_mme: '16MB' } } });
    for (const argv of [['--check', 'configure-cluster'], ['configure-cluster']]) {
      const r = await run(...argv);
      expect(r.code).toBe(2);
      expect(messages(r)).toContain('pg_parameters.work_mme (on h3): PostgreSQL has no setting "work_mme"; did you mean work_mem?');
      expect(changedSteps(r)).toEqual([]);
    }
    expect(await confSums()).toEqual(before);
    for (const h of HOSTS) expect(await sql(lab, h, 'show work_mem')).toBe('4MB');
  });

  test("a value of the wrong kind is refused before writing, with PostgreSQL's own message", async () => {
    const before = await confSums();
    write({ ...parameters, shared_buffers: 'lots' });
    const r = await run('configure-cluster');
    expect(r.code).toBe(2);
    expect(messages(r)).toContain('pg_parameters.shared_buffers = "lots": invalid value for parameter "shared_buffers": "lots"');
    expect(await confSums()).toEqual(before);
  });

  test('a value only PostgreSQL can judge: the old files are put back, the host fails, the server runs on; fixed, a re-run converges', async () => {
    const before = await confSums();
    const started = await startTimes();
    write({ ...parameters, work_mem: '8MB', log_destination: 'nowhere' });
    const r = await run('configure-cluster');
    expect(r.code).toBe(2);
    const text = messages(r);
    expect(text).toMatch(
      /PostgreSQL rejects the new configuration: \/etc\/postgresql\/15\/cfg\/postgresql\.conf line \d+: log_destination = 'nowhere': invalid value for parameter "log_destination": "nowhere" Unrecognized key word: "nowhere"\./,
    );
    expect(text).toContain('the previous files were put back and PostgreSQL runs on with them');
    expect(r.recap.h1).toMatchObject({ failed: 1 });
    expect(await confSums()).toEqual(before);
    expect(await startTimes()).toEqual(started);
    for (const h of HOSTS) expect(await sql(lab, h, 'show work_mem')).toBe('4MB');

    parameters = { ...parameters, work_mem: '8MB' };
    write(parameters);
    const fixed = await run('configure-cluster');
    expect(fixed.code, messages(fixed)).toBe(0);
    for (const h of HOSTS) expect(await sql(lab, h, 'show work_mem')).toBe('8MB');
    expect(await startTimes()).toEqual(started);
    expect(changedSteps(await run('configure-cluster'))).toEqual([]);
  });

  test('raising max_connections: --check lists the restarts; replicas restart first, then the primary behind PgBouncer, no client fails', async () => {
    parameters = { ...parameters, max_connections: 200 };
    write(parameters);
    const check = await run('--check', 'configure-cluster');
    expect(check.code).toBe(0);
    const predicted = messages(check);
    for (const h of ['h2', 'h3', 'h1'])
      expect(predicted).toContain(`would restart ${h}: max_connections 100 -> 200 (replicas first: the primary raises max_connections 100 -> 200)`);
    expect(predicted.indexOf('would restart h2')).toBeLessThan(predicted.indexOf('would restart h1'));
    expect(await sql(lab, 'h1', 'show max_connections')).toBe('100');

    const started = await startTimes();
    const logs = await logEnds();
    const load = startLoad(address('h3'), 6432, password);
    // Deliberate durations: clients write 0.5 s before the restarts and 0.5 s after them, so the load spans them.
    await new Promise((r) => setTimeout(r, 500));
    const r = await run('configure-cluster');
    await new Promise((r) => setTimeout(r, 500));
    const result = await load.stop();
    expect(r.code, messages(r)).toBe(0);
    expect(restarted(r)).toEqual(['h2', 'h3', 'h1']);
    const after = await startTimes();
    for (const h of HOSTS) {
      expect(await sql(lab, h, 'show max_connections')).toBe('200');
      expect(after[h]).not.toBe(started[h]);
    }
    expect(after.h2! < after.h3! && after.h3! < after.h1!).toBe(true);
    expect(result.failures).toEqual([]);
    expect(result.committed.length).toBeGreaterThan(20);
    const waited = /clients of PgBouncer on .* waited \d+ ms[^\n]*/.exec(messages(r))?.[0];
    console.log(`raise max_connections: ${result.attempts} attempts, 0 failed, longest write gap ${result.longestGapMs} ms; ${waited}`);
    await replicasHealthy(logs);
    expect(changedSteps(await run('configure-cluster'))).toEqual([]);
  });

  test('lowering max_connections restarts the primary first', async () => {
    parameters = { ...parameters, max_connections: 150 };
    write(parameters);
    const logs = await logEnds();
    const r = await run('configure-cluster');
    expect(r.code, messages(r)).toBe(0);
    expect(restarted(r)).toEqual(['h1', 'h2', 'h3']);
    for (const h of HOSTS) expect(await sql(lab, h, 'show max_connections')).toBe('150');
    await replicasHealthy(logs);
  });

  test('a restart that fails (a library that does not exist) puts the previous files back and starts again; later hosts keep theirs pending', async () => {
    write({ ...parameters, shared_preload_libraries: 'no_such_library' });
    const started = await startTimes();
    const r = await run('configure-cluster');
    expect(r.code).toBe(2);
    expect(messages(r)).toMatch(
      /h2: restart: restart of PostgreSQL 15\/cfg failed[^]*could not access file "no_such_library"[^]*the previous configuration files were put back and PostgreSQL started again with them/,
    );
    expect(messages(r)).toContain('restarts stopped at h2; h3, h1 keep their pending restart');
    const after = await startTimes();
    expect([after.h1, after.h3]).toEqual([started.h1, started.h3]);
    expect(await sql(lab, 'h2', 'show shared_preload_libraries')).toBe('');
    const logs = await logEnds();
    write(parameters);
    const fixed = await run('configure-cluster');
    expect(fixed.code, messages(fixed)).toBe(0);
    // PostgreSQL keeps pending_restart for a restart-only line removed from the file: the hosts that had it restart.
    expect(restarted(fixed)).toEqual(['h3', 'h1']);
    expect(messages(fixed)).toContain("shared_preload_libraries '' (restart pending in PostgreSQL)");
    for (const h of HOSTS) expect(await sql(lab, h, 'select count(*) from pg_settings where pending_restart')).toBe('0');
    await replicasHealthy(logs);
    expect(changedSteps(await run('configure-cluster'))).toEqual([]);
  });

  test('PgBouncer cannot pause (a transaction stays open): RESUMEd, the primary is not restarted; once it ends, a re-run finishes', async () => {
    const holder = new pg.Client({ host: address('h2'), port: 6432, user: 'admin', password, database: 'postgres', ssl: LAB_TLS });
    await holder.connect();
    await holder.query('begin');
    await holder.query('insert into load (id) values (-1)');
    parameters = { ...parameters, max_connections: 160 };
    write(parameters);
    const primaryStarted = await sql(lab, 'h1', 'select pg_postmaster_start_time()');
    const logs = await logEnds();
    const t0 = Date.now();
    const r = await run('configure-cluster');
    expect(r.code).toBe(2);
    expect(messages(r)).toMatch(/PgBouncer on h2 did not pause within 5000 ms .*every PgBouncer was resumed/);
    expect(Date.now() - t0).toBeLessThan(60_000);
    expect(await sql(lab, 'h1', 'select pg_postmaster_start_time()')).toBe(primaryStarted);
    // Resumed: another client gets through PgBouncer at once.
    const other = new pg.Client({ host: address('h2'), port: 6432, user: 'admin', password, database: 'postgres', query_timeout: 3000, ssl: LAB_TLS });
    await other.connect();
    expect((await other.query('select 1 as one')).rows).toEqual([{ one: 1 }]);
    await other.end();
    await holder.query('commit');
    await holder.end();

    const again = await run('configure-cluster');
    expect(again.code, messages(again)).toBe(0);
    expect(restarted(again)).toEqual(['h1']);
    for (const h of HOSTS) expect(await sql(lab, h, 'show max_connections')).toBe('160');
    await replicasHealthy(logs);
  });
});
