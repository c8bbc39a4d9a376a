import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { stringify } from 'yaml';
import type { ClusterBackups } from '../../src/backup/list-render.js';
import type { ClusterStatus } from '../../src/status/model.js';
import { sql, labConnectionVars } from '../lab/cluster-inventory.js';
import { hostExec, labDown, labUp, type Lab } from '../lab/lab.js';
import { primaryOf, streamingFrom } from './helpers/cluster-state.js';
import { eventually, pgtasks, type CliResult } from './helpers/pgtasks.js';
import { labDescribe } from './helpers/lab-describe.js';

const LAB = 'rst';
const BACKUP = { provider: 'pgbackrest', repo_host: 'h4', retention_full: 2, schedule: { full: '0 1 * * 0', diff: '0 1 * * 1-6' } };
const DIR = '/var/lib/postgresql/15';

/**
 * Point-in-time restore on the lab (issue 9): cluster demo on h1-h3, its repository on h4, and cluster
 * rehearsal on h5-h6, empty until demo is restored into it. In order: a refused target changes nothing;
 * --to a time before a table was dropped (with a switchover between the backup and that time) gives
 * rehearsal exactly the rows of that time while demo keeps its own; --in-place --latest after the
 * primary's data directory is wiped brings every acknowledged row back.
 */
labDescribe('restore-cluster on the lab (demo h1-h3, repository h4, rehearsal h5-h6)', () => {
  let lab: Lab;
  let inventory: string;
  const outputs: string[] = [];
  const run = async (...argv: string[]): Promise<CliResult> => {
    const r = await pgtasks(['-i', inventory, ...argv]);
    outputs.push(`### ${argv.join(' ')}\n${r.stdout}${r.stderr}`);
    return r;
  };
  const tail = (r: CliResult) => r.stdout.slice(-4000);
  const result = <T>(r: CliResult) => {
    const e = r.events.find((x) => x.type === 'result');
    return (e && e.type === 'result' ? e.data : undefined) as T;
  };
  const address = (h: string) => lab.hosts.find((x) => x.name === h)!.address;
  const writeInventory = (file: string, withBackup: boolean) => {
    const cluster = (name: string, hosts: string[]) => ({
      vars: { pg_cluster: name, pg_sync_replicas: 1, pg_credentials_dir: join(lab.dir, 'credentials'), ...(withBackup ? { pg_backup: BACKUP } : {}) },
      hosts: Object.fromEntries(hosts.map((h) => [h, { ansible_host: address(h) }])),
    });
    const doc = {
      all: {
        vars: labConnectionVars(lab),
        children: {
          demo: cluster('demo', ['h1', 'h2', 'h3']),
          rehearsal: cluster('rehearsal', ['h5', 'h6']),
          repo: { hosts: { h4: { ansible_host: address('h4') } } },
        },
      },
    };
    writeFileSync(file, stringify(doc));
    return file;
  };
  /** A WAL switch on `primary`, waited for in pg_stat_archiver: everything committed before is in the repository. */
  const archiveNow = async (primary: string) => {
    const segment = await sql(lab, primary, 'select pg_walfile_name(pg_switch_wal())');
    await eventually(
      () => sql(lab, primary, "select coalesce(last_archived_wal, '') from pg_stat_archiver"),
      (v) => v.slice(0, 24) >= segment,
      60_000,
    );
  };
  const empty = async (h: string, cluster: string) => (await hostExec(lab, h, `ls -A ${DIR}/${cluster} 2>/dev/null | wc -l`)).stdout.trim() === '0';
  const repoConf = async () => (await hostExec(lab, 'h4', 'cat /etc/pgbackrest/pgbackrest.conf')).stdout;

  beforeAll(async () => {
    lab = await labUp({ hosts: 6, name: LAB });
    inventory = writeInventory(join(lab.dir, 'restore.yml'), true);
    const r = await run('configure-cluster', '--cluster', 'demo');
    expect(r.code, tail(r)).toBe(0);
    await streamingFrom(lab, 'h1', 2);
  }, 180_000);

  afterAll(async () => {
    if (process.env.PGTASKS_TEST_KEEP_OUTPUT) writeFileSync(join('/tmp', `restore-test-${process.pid}.log`), outputs.join('\n'));
    await labDown(LAB);
  });

  let pointInTime = '';
  test('backup, rows, a switchover, the noted time, more rows and a dropped table; backup-list and info-list show the backup', async () => {
    await sql(
      lab,
      'h1',
      "create table t (id int primary key); create table keep (note text); insert into keep values ('kept'); insert into t select generate_series(1, 100)",
    );
    const b = await run('backup', '--cluster', 'demo', '--type', 'full');
    expect(b.code, tail(b)).toBe(0);
    await sql(lab, 'h1', 'insert into t select generate_series(101, 150)');
    const m = await run('migrate-to-master', '--target', 'h2');
    expect(m.code, tail(m)).toBe(0);
    await sql(lab, 'h2', 'insert into t select generate_series(151, 200)');
    pointInTime = await sql(lab, 'h2', 'select clock_timestamp()::text');
    await new Promise((r) => setTimeout(r, 50)); // the rows below commit strictly after the noted time
    await sql(lab, 'h2', 'insert into t select generate_series(201, 300); drop table keep');

    const list = await run('backup-list', '--cluster', 'demo');
    expect(list.code, tail(list)).toBe(0);
    const [c] = result<ClusterBackups[]>(list);
    expect(c!.backups).toHaveLength(1);
    expect(c!.backups[0]!.type).toBe('full');
    expect(c!.health.verdict).toBe('OK');
    expect(c!.health.archive.state).toBe('ok');
    expect(c!.earliest?.label).toBe(c!.backups[0]!.label);

    const info = await run('info-list', '--cluster', 'demo');
    const [s] = result<ClusterStatus[]>(info);
    expect(s!.backup?.verdict, tail(info)).toBe('OK');
    expect(info.code).toBe(0);
    // info-list's cost of the BACKUP line: the CLI as a user runs it, with and without pg_backup in the inventory.
    const plain = writeInventory(join(lab.dir, 'plain.yml'), false);
    const time = (inv: string) => {
      const t = Date.now();
      const p = spawnSync(process.execPath, ['bin/pgtasks.js', '-i', inv, 'info-list', '--cluster', 'demo'], { encoding: 'utf8' });
      return { ms: Date.now() - t, out: p.stdout };
    };
    const runs = (inv: string) => [time(inv), time(inv), time(inv)].map((x) => x.ms).sort((a, b) => a - b)[1]!;
    const without = runs(plain);
    const withBackup = runs(inventory);
    console.log(`info-list (CLI, median of 3): ${without} ms without pg_backup, ${withBackup} ms with the BACKUP line`);
    // After the switchover the last archived file is the old timeline's .partial segment.
    expect(time(inventory).out).toMatch(/^BACKUP OK: last full .* ago \(allowed 30 h\); last WAL [0-9A-F]{24}\S* archived/m);
  }, 120_000);

  test('a target after the latest archived WAL is refused, nothing changed (rehearsal empty, no grant on the repository)', async () => {
    const before = await repoConf();
    const future = new Date(Date.now() + 3600_000).toISOString();
    const r = await run('restore-cluster', '--cluster', 'demo', '--to', future, '--into', 'rehearsal');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/REFUSED: restore-cluster: cluster demo: time .* is after the latest archived WAL .*; nothing was changed/);
    expect(await empty('h5', 'rehearsal')).toBe(true);
    expect(await empty('h6', 'rehearsal')).toBe(true);
    expect(await repoConf()).toBe(before);
    expect(await sql(lab, 'h2', 'select count(*) from t')).toBe('300');
    const early = await run('restore-cluster', '--cluster', 'demo', '--to', '2001-01-01 00:00:00+00', '--into', 'rehearsal');
    expect(early.stdout).toMatch(/is before the earliest backup: the earliest point it can restore to is/);
    // --check -v describes the restore (the grant, pgbackrest restore, the promotion) and changes nothing.
    const check = await run('--check', '-v', 'restore-cluster', '--cluster', 'demo', '--to', pointInTime, '--into', 'rehearsal');
    expect(check.code, tail(check)).toBe(0);
    expect(check.stdout).toMatch(
      /would run: \[as postgres\] .*pgbackrest (--log-level-console=detail )?--stanza=demo --pg1-path=\/var\/lib\/postgresql\/15\/rehearsal\.pgtasks-restore --type=time/,
    );
    expect(await empty('h5', 'rehearsal')).toBe(true);
    expect((await hostExec(lab, 'h5', 'ls /etc/postgresql/15/rehearsal 2>/dev/null | wc -l')).stdout.trim()).toBe('0');
    expect(await repoConf()).toBe(before);
  }, 120_000);

  test('--to the noted time --into rehearsal: exactly the rows of that time and the dropped table; demo unchanged; rehearsal a full cluster', async () => {
    const t = Date.now();
    const r = await run('restore-cluster', '--cluster', 'demo', '--to', pointInTime, '--into', 'rehearsal');
    expect(r.code, tail(r)).toBe(0);
    console.log(`restore-cluster --into (restore, promote, configure rehearsal): ${Date.now() - t} ms`);
    expect(await sql(lab, 'h5', 'select count(*), min(id), max(id) from t')).toBe('200|1|200');
    expect(await sql(lab, 'h5', 'select note from keep')).toBe('kept');
    expect(await sql(lab, 'h5', 'select pg_is_in_recovery()')).toBe('f');
    // No recovery setting left behind, and no way into demo's archive.
    expect(await sql(lab, 'h5', "select current_setting('restore_command') || '|' || current_setting('recovery_target_time')")).toBe('|');
    expect(await repoConf()).not.toMatch(/pgtasks-rehearsal=.*demo/);
    // rehearsal is a cluster of its own: its replica streams, it archives into its own stanza.
    expect(await streamingFrom(lab, 'h5', 1)).toBe('h6');
    expect(await sql(lab, 'h6', 'select count(*) from t')).toBe('200');
    await archiveNow('h5');
    const info = await hostExec(lab, 'h4', 'runuser -u postgres -- pgbackrest --stanza=rehearsal --output=json info');
    expect(info.stdout).toMatch(/"name":"rehearsal"/);
    // demo as it was: every row, the table still dropped, its primary still h2.
    expect(await sql(lab, 'h2', 'select count(*) from t')).toBe('300');
    expect(await sql(lab, 'h2', "select count(*) from pg_tables where tablename = 'keep'")).toBe('0');
    expect(await primaryOf(lab, ['h1', 'h2', 'h3'])).toBe('h2');
    // A second restore into it is refused: its hosts hold data now.
    const again = await run('restore-cluster', '--cluster', 'demo', '--latest', '--into', 'rehearsal');
    expect(again.code).toBe(1);
    expect(again.stdout).toMatch(/cluster rehearsal's hosts hold data \(h5 holds a primary's data/);
  }, 180_000);

  test("--in-place --latest after the primary's data directory is wiped: every acknowledged row is back, replicas rebuilt, old directories kept", async () => {
    await sql(lab, 'h2', 'insert into t select generate_series(301, 400)');
    await archiveNow('h2');
    // The primary's disk is lost: PostgreSQL killed, its data directory gone.
    await hostExec(lab, 'h2', `pkill -9 -u postgres -x postgres; sleep 0.5; rm -rf ${DIR}/demo`);
    const refused = await run('restore-cluster', '--cluster', 'demo', '--latest', '--in-place');
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/add --yes; nothing was changed/);
    expect(refused.events.filter((e) => e.type === 'step' && e.status === 'changed')).toEqual([]);
    const t = Date.now();
    const r = await run('restore-cluster', '--cluster', 'demo', '--latest', '--in-place', '--yes');
    expect(r.code, tail(r)).toBe(0);
    console.log(`restore-cluster --in-place --latest (restore, promote, rebuild 2 replicas): ${Date.now() - t} ms`);
    const primary = await primaryOf(lab, ['h1', 'h2', 'h3']);
    expect(primary).toBe('h1');
    expect(await sql(lab, 'h1', 'select count(*), max(id) from t')).toBe('400|400');
    expect((await streamingFrom(lab, 'h1', 2)).split(',').sort()).toEqual(['h2', 'h3']);
    for (const h of ['h1', 'h3'])
      expect((await hostExec(lab, h, `ls -d ${DIR}/demo.before-restore-*`)).stdout.trim()).toMatch(/demo\.before-restore-\d{8}T\d{6}$/);
    // It archives again, on its new timeline, into the same stanza.
    await sql(lab, 'h1', 'insert into t values (401)');
    await archiveNow('h1');
    const list = await run('backup-list', '--cluster', 'demo');
    expect(result<ClusterBackups[]>(list)[0]!.health.archive.state).toBe('ok');
  }, 180_000);

  test('an --in-place restore that fails in recovery puts every old data directory back (and starts what ran)', async () => {
    // The primary stopped: nothing tells where the archive ends, so a target past it fails in recovery, not before.
    expect((await hostExec(lab, 'h1', 'pg_ctlcluster -m fast 15 demo stop')).code).toBe(0);
    const future = new Date(Date.now() + 3600_000).toISOString();
    const r = await run('restore-cluster', '--cluster', 'demo', '--to', future, '--in-place', '--yes');
    // 2: a host's step failed (the recover step on h1, with PostgreSQL's reason).
    expect(r.code, tail(r)).toBe(2);
    expect(r.stdout).toMatch(/recovery ended before configured recovery target was reached/);
    expect(r.stdout).toMatch(/REFUSED: restore-cluster: the restore of demo failed \(a step failed on h1\); its data directories are back where they were/);
    // The replicas run again on their own data; h1 holds its own again, stopped as it was, and the failed copy beside it.
    for (const h of ['h2', 'h3']) expect(await sql(lab, h, 'select pg_is_in_recovery()')).toBe('t');
    expect((await hostExec(lab, 'h1', `ls -d ${DIR}/demo.failed-restore-*`)).stdout.trim()).toMatch(/demo\.failed-restore-\d{8}T\d{6}$/);
    expect((await hostExec(lab, 'h2', `ls -d ${DIR}/demo.before-restore-* 2>/dev/null | wc -l`)).stdout.trim()).toBe('0');
    const c = await run('configure-cluster', '--cluster', 'demo');
    expect(c.code, tail(c)).toBe(0);
    expect(await sql(lab, 'h1', 'select count(*) from t')).toBe('401');
    expect(await streamingFrom(lab, 'h1', 2)).toBe('h2,h3');
  }, 180_000);
});
