import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { hostExec, labDown, labUp, startHost, stopHost, wipeHost, type Lab } from '../lab/lab.js';
import { sql, writeClusterInventory } from '../lab/cluster-inventory.js';
import { streamingFrom } from './helpers/cluster-state.js';
import { changedSteps, eventually, pgtasks, type CliResult } from './helpers/pgtasks.js';
import { labDescribe } from './helpers/lab-describe.js';

const LAB = 'bk';
const BACKUP = { provider: 'pgbackrest', repo_host: 'h4', retention_full: 2, schedule: { full: '0 1 * * 0', diff: '0 1 * * 1-6' } };

labDescribe('backups with pgBackRest on the lab (h1-h3 a cluster, h4 the repository host)', () => {
  let lab: Lab;
  let inventory: string;
  const outputs: string[] = [];
  const run = async (...argv: string[]) => {
    const r = await pgtasks(['-i', inventory, ...argv]);
    outputs.push(r.stdout, r.stderr);
    return r;
  };
  const write = (backup: boolean) =>
    writeClusterInventory(lab, inventory, { cluster: 'demo', hosts: ['h1', 'h2', 'h3'], extraHosts: ['h4'], clusterVars: backup ? { pg_backup: BACKUP } : {} });
  const h4 = (cmd: string) => hostExec(lab, 'h4', cmd);
  const archiver = (h: string) => sql(lab, h, "select archived_count || ' ' || failed_count || ' ' || coalesce(last_archived_wal, '-') from pg_stat_archiver");

  // Every command line on every host, sampled while pgtasks runs: no secret may be in one.
  const argv = new Set<string>();
  let sampling = true;
  let sampler: Promise<void>;
  const sample = async () => {
    while (sampling) {
      for (const h of ['h1', 'h2', 'h3', 'h4']) {
        const r = await hostExec(lab, h, 'cat /proc/[0-9]*/cmdline 2>/dev/null | tr "\\0" " "; echo').catch(() => ({ stdout: '' }));
        for (const l of r.stdout.split('\n')) argv.add(l);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  beforeAll(async () => {
    lab = await labUp({ hosts: 4, name: LAB });
    inventory = join(lab.dir, 'demo.yml');
    write(false);
    const r = await run('configure-cluster');
    expect(r.code, r.stderr).toBe(0);
    sampler = sample();
  }, 120_000);

  afterAll(async () => {
    sampling = false;
    await sampler;
    await labDown(LAB);
  });

  let noopBefore = 0;
  test('pg_backup added to a running cluster: pgBackRest everywhere, archive_mode by ordered restart (replicas first, primary behind a PAUSE), stanza, archiving, cron', async () => {
    let t = Date.now();
    expect((await run('configure-cluster')).code).toBe(0);
    noopBefore = Date.now() - t;
    write(true);
    t = Date.now();
    const r = await run('configure-cluster');
    const took = Date.now() - t;
    expect(r.code, r.stdout.slice(-3000)).toBe(0);
    const restarts = r.events.flatMap((e) => (e.type === 'step' && e.step === 'restart' && e.status === 'changed' ? [e.host] : []));
    expect(restarts).toHaveLength(3);
    expect(restarts[2]).toBe('h1');
    expect(r.stdout).toMatch(/clients of PgBouncer on .* waited \d+ ms \(PAUSE/);
    const changed = changedSteps(r).join('\n');
    expect(changed).toMatch(/h4: backup: stanza demo: pgbackrest stanza-create/);
    expect(changed).toMatch(/h1: backup: archiving: pgbackrest check/);
    expect(changed).toMatch(/h4: backup: schedule demo/);
    for (const h of ['h1', 'h2', 'h3', 'h4']) expect(changed).toMatch(new RegExp(`${h}: backup: TLS server: start`));
    console.log(`configure-cluster adding pg_backup: ${took} ms; no-op run before pg_backup: ${noopBefore} ms`);

    const [archived, failed] = (
      await eventually(
        () => archiver('h1'),
        (v) => Number(v.split(' ')[0]) > 0,
      )
    ).split(' ');
    expect(Number(archived)).toBeGreaterThan(0);
    expect(failed).toBe('0');
    for (const h of ['h1', 'h2', 'h3']) expect(await sql(lab, h, 'show archive_mode')).toBe('on');
    const conf = await h4('stat -c "%a %U:%G" /etc/pgbackrest/pgbackrest.conf /etc/pgbackrest/cert/server.key /etc/pgbackrest/cert/client.key');
    expect(conf.stdout.trim().split('\n')).toEqual(['640 root:postgres', '600 postgres:postgres', '600 postgres:postgres']);
    const cron = (await h4('cat /etc/cron.d/pgtasks-backup-demo')).stdout;
    expect(cron).toContain(
      '0 1 * * 0 postgres pgbackrest --stanza=demo --type=full --backup-standby backup || pgbackrest --stanza=demo --type=full --no-backup-standby backup',
    );
    expect(cron).toContain('0 1 * * 1-6 postgres pgbackrest --stanza=demo --type=diff --backup-standby backup ||');
    const keyMode = statSync(join(lab.dir, 'credentials', '_pgbackrest', 'h4', 'ca.key')).mode & 0o777;
    expect(keyMode.toString(8)).toBe('600');
  }, 150_000);

  test('a re-run changes nothing', async () => {
    const t = Date.now();
    const r = await run('configure-cluster');
    const took = Date.now() - t;
    expect(r.code).toBe(0);
    expect(changedSteps(r)).toEqual([]);
    for (const h of ['h1', 'h2', 'h3', 'h4']) expect(r.recap[h]).toMatchObject({ changed: 0, failed: 0, unreachable: 0 });
    console.log(`no-op configure-cluster with pg_backup: ${took} ms (without: ${noopBefore} ms)`);
    const check = await run('--check', 'configure-cluster');
    expect(check.code, check.stdout.slice(-2000)).toBe(0);
    expect(changedSteps(check)).toEqual([]);
  }, 60_000);

  let full: CliResult;
  test('pgtasks backup --type full: taken from a streaming standby, shown by pgbackrest info on h4', async () => {
    await streamingFrom(lab, 'h1', 2);
    await sql(lab, 'h1', 'create table t (id int primary key); insert into t select generate_series(1, 1000)');
    full = await run('backup', '--type', 'full');
    expect(full.code, full.stdout.slice(-2000)).toBe(0);
    const result = full.events.find((e) => e.type === 'result');
    const data = (result && result.type === 'result' ? result.data : []) as { cluster: string; type: string; from: string; label: string; sizeBytes: number }[];
    expect(data).toHaveLength(1);
    expect(data[0]).toMatchObject({ cluster: 'demo', type: 'full', from: 'standby' });
    expect(data[0]!.sizeBytes).toBeGreaterThan(1_000_000);
    const info = await h4('runuser -u postgres -- pgbackrest --stanza=demo info');
    expect(info.stdout).toContain(data[0]!.label);
    expect(info.stdout).toMatch(/status: ok/);
    // backup-standby: the data files were read from a replica (its log line), not only the primary.
    const log = (await h4('cat /var/log/pgbackrest/demo-backup.log')).stdout;
    expect(log).toMatch(/replay on the standby reached/);
  }, 120_000);

  test('an unreachable repository host: a clear refusal before anything changes', async () => {
    // h4's SSH port closed: the same inventory otherwise.
    const dead = join(lab.dir, 'dead-repo.yml');
    writeClusterInventory(lab, dead, {
      cluster: 'demo',
      hosts: ['h1', 'h2', 'h3'],
      extraHosts: ['h4'],
      hostVars: { h4: { ansible_port: 2 } },
      clusterVars: { pg_backup: BACKUP },
    });
    const r = await pgtasks(['-i', dead, 'backup', '--cluster', 'demo']);
    outputs.push(r.stdout, r.stderr);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toMatch(/backup repository host h4 is unreachable/);
    expect(changedSteps(r)).toEqual([]);
    // configure-cluster (as a switchover's or failover's converge runs it): PostgreSQL first, pgBackRest waits for the host.
    const c = await pgtasks(['-i', dead, 'configure-cluster']);
    outputs.push(c.stdout, c.stderr);
    expect(c.code).toBe(4);
    expect(c.stdout).toMatch(/h4 is unreachable .*pgBackRest is left as it is this run/);
    expect(changedSteps(c)).toEqual([]);
  }, 120_000);

  test('after migrate-to-master --target h2, h2 archives (a new segment reaches the repository)', async () => {
    const m = await run('migrate-to-master', '--target', 'h2');
    expect(m.code, m.stdout.slice(-2000)).toBe(0);
    await sql(lab, 'h2', 'insert into t select generate_series(1001, 2000)');
    const segment = await sql(lab, 'h2', 'select pg_walfile_name(pg_switch_wal())');
    const after = await eventually(
      () => archiver('h2'),
      (v) => v.split(' ')[2]! >= segment.slice(0, 24),
      60_000,
    );
    expect(after.split(' ')[1]).toBe('0');
    expect(after.split(' ')[2]! >= segment).toBe(true);
    const info = await h4('runuser -u postgres -- pgbackrest --stanza=demo --output=json info');
    expect(info.stdout).toContain(segment.slice(0, 8)); // the new timeline's segments are in the archive
  }, 120_000);

  test('a new cluster bootstrapped with pg_backup archives from its first segment (the stanza is made before any clone)', async () => {
    // Every disk of the cluster lost, and the repository emptied: configure-cluster builds both again.
    for (const h of ['h1', 'h2', 'h3']) await stopHost(lab, h);
    for (const h of ['h1', 'h2', 'h3']) await wipeHost(lab, h);
    await wipeHost(lab, 'h4', ['/var/lib/pgbackrest']);
    for (const h of ['h1', 'h2', 'h3']) await startHost(lab, h);
    write(true);
    const r = await run('configure-cluster');
    expect(r.code, r.stdout.slice(-3000)).toBe(0);
    const changed = changedSteps(r).join('\n');
    expect(changed).toMatch(/h4: backup: stanza demo: pgbackrest stanza-create/);
    expect(changed).toMatch(/h1: backup: archiving: pgbackrest check/);
    const [archived, failed] = (await archiver('h1')).split(' ');
    expect(Number(archived)).toBeGreaterThan(0);
    expect(failed).toBe('0');
    expect(await streamingFrom(lab, 'h1', 2)).toBe('h2,h3');
  }, 150_000);

  test('no secret (cipher pass, admin password) in any command line sampled on the hosts, nor in any output', async () => {
    sampling = false;
    await sampler;
    const cipher = readFileSync(join(lab.dir, 'credentials', 'demo', 'backup', 'cipher.pass'), 'utf8').trim();
    const admin = readFileSync(join(lab.dir, 'credentials', 'demo', 'admin.password'), 'utf8').trim();
    expect(argv.size).toBeGreaterThan(50);
    expect([...argv].some((l) => l.includes('pgbackrest'))).toBe(true);
    for (const secret of [cipher, admin]) {
      expect([...argv].filter((l) => l.includes(secret))).toEqual([]);
      expect(outputs.filter((o) => o.includes(secret))).toEqual([]);
    }
    // The repository is encrypted with it.
    const info = await h4('runuser -u postgres -- pgbackrest --stanza=demo info');
    expect(info.stdout).toMatch(/cipher: aes-256-cbc/);
  }, 60_000);
});
