import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { hostExec, labDown, labUp, startHost, stopHost, type Lab } from '../lab/lab.js';
import { sql, writeClusterInventory } from '../lab/cluster-inventory.js';
import type { RunEvent } from '../../src/engine/events.js';
import { primaryOf, streamingFrom } from './helpers/cluster-state.js';
import { changedSteps, eventually, pgtasks, type CliResult } from './helpers/pgtasks.js';
import { labDescribe } from './helpers/lab-describe.js';

/*
 * Issue 9, the rest: a replica built from the repository (pg_replica_source: backup) while the primary
 * serves no base backup, progress events in --json, and archiving and restore across a failover and a
 * rejoin. h1-h3 the cluster, h4 the repository host, h5 the member built from the repository.
 */

const LAB = 'bkmore';
const BACKUP = { provider: 'pgbackrest', repo_host: 'h4', retention_full: 2, schedule: { full: '0 1 * * 0' } };

type Progress = Extract<RunEvent, { type: 'progress' }>;
const progressOf = (r: CliResult, host: string, step: string): Progress[] =>
  r.events.filter((e): e is Progress => e.type === 'progress' && e.host === host && e.step === step);

labDescribe('backups, more: a replica from the repository, progress, archiving across failover and rejoin', () => {
  let lab: Lab;
  let inventory: string;
  const run = (...argv: string[]) => pgtasks(['-i', inventory, ...argv]);
  const write = (members: string[]) =>
    writeClusterInventory(lab, inventory, {
      cluster: 'demo',
      hosts: members,
      extraHosts: ['h4'],
      clusterVars: { pg_backup: BACKUP },
      hostVars: { h5: { pg_replica_source: 'backup' } },
    });
  const count = (h: string) => sql(lab, h, 'select count(*) from t').then(Number);
  const archiver = (h: string) => sql(lab, h, "select coalesce(last_archived_wal, '') || ' ' || failed_count from pg_stat_archiver");
  /** A WAL switch on the primary, waited for in pg_stat_archiver: the segment reached the repository; no failure. */
  const archives = async (primary: string) => {
    await sql(lab, primary, 'select txid_current()');
    const segment = await sql(lab, primary, 'select pg_walfile_name(pg_switch_wal())');
    const [last, failed] = (
      await eventually(
        () => archiver(primary),
        (v) => v.split(' ')[0]!.slice(0, 24) >= segment,
        60_000,
      )
    ).split(' ');
    expect(last!.slice(0, 24) >= segment).toBe(true);
    expect(failed).toBe('0');
    return segment;
  };

  beforeAll(async () => {
    lab = await labUp({ hosts: 5, name: LAB });
    inventory = join(lab.dir, 'demo.yml');
    write(['h1', 'h2', 'h3']);
    const r = await run('configure-cluster');
    expect(r.code, r.stdout.slice(-3000)).toBe(0);
    // About 100 MB, so the backup and the restore last a few seconds and report progress on the way.
    await sql(lab, 'h1', 'create table big as select g, repeat(md5(g::text), 6) as pad from generate_series(1, 400000) g');
    await sql(lab, 'h1', 'create table t (id int primary key); insert into t select generate_series(1, 100)');
  }, 180_000);

  afterAll(async () => {
    await labDown(LAB);
  });

  let backupSize = 0;
  test('pgtasks backup --type full: progress events of the repository host in --json, ending at the whole size', async () => {
    await streamingFrom(lab, 'h1', 2);
    const r = await run('backup', '--type', 'full');
    expect(r.code, r.stdout.slice(-2000)).toBe(0);
    const events = progressOf(r, 'h4', 'backup demo');
    const data = (r.events.find((e) => e.type === 'result') as { data: { sizeBytes: number; durationSeconds: number }[] }).data[0]!;
    backupSize = data.sizeBytes;
    console.log(
      `backup: ${events.length} progress events over ${data.durationSeconds} s, size ${(backupSize / 1048576).toFixed(1)} MB; last: ${JSON.stringify(events.at(-1))}`,
    );
    expect(events.length).toBeGreaterThanOrEqual(2);
    const last = events.at(-1)!;
    expect(last.total).toBe(last.done);
    expect(Math.abs(last.done - backupSize) / backupSize).toBeLessThan(0.05);
    expect(events.some((e) => e.rateBytesPerSec !== undefined && e.rateBytesPerSec > 0)).toBe(true);
    expect(events.map((e) => e.done)).toEqual([...events.map((e) => e.done)].sort((a, b) => a - b));
  }, 180_000);

  test('a member with pg_replica_source: backup is restored from the repository (the primary serves no base backup), replays the archive and streams through its slot', async () => {
    // Written after the backup: they come from the archive and the stream, not from the backup.
    await sql(lab, 'h1', 'insert into t select generate_series(101, 200)');
    write(['h1', 'h2', 'h3', 'h5']);
    // The primary, sampled through the run: a base backup would show as a walsender in state 'backup'
    // and in pg_stat_progress_basebackup.
    let sampling = true;
    const seen = { backups: 0, samples: 0 };
    const sampler = (async () => {
      while (sampling) {
        const v = await sql(
          lab,
          'h1',
          "select (select count(*) from pg_stat_replication where state = 'backup') + (select count(*) from pg_stat_progress_basebackup)",
        ).catch(() => '0');
        seen.backups += Number(v);
        seen.samples++;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const r = await run('configure-cluster');
    sampling = false;
    await sampler;
    expect(r.code, r.stdout.slice(-3000)).toBe(0);
    const clone = changedSteps(r).filter((s) => s.startsWith('h5: clone:'));
    expect(clone).toHaveLength(1);
    expect(clone[0]).toMatch(/^h5: clone: pgbackrest restore --type=standby of backup \S+F from h4, then streams from h1$/);
    const events = progressOf(r, 'h5', 'clone');
    console.log(`clone from the repository: ${events.length} progress events; primary sampled ${seen.samples} times, base backups seen: ${seen.backups}`);
    expect(events.length).toBeGreaterThanOrEqual(1);
    expect(events.at(-1)!.done).toBe(events.at(-1)!.total);
    expect(seen.samples).toBeGreaterThan(5);
    expect(seen.backups).toBe(0);

    await streamingFrom(lab, 'h1', 3);
    expect(await sql(lab, 'h1', "select active from pg_replication_slots where slot_name = 'h5'")).toBe('t');
    await eventually(
      () => count('h5').catch(() => -1),
      (n) => n === 200,
    );
    // It replayed WAL from the archive (restore_command) before streaming.
    const log = await hostExec(lab, 'h5', 'cat /var/log/postgresql/postgresql-15-demo.log');
    expect(log.stdout).toMatch(/restored log file "[0-9A-F]{24}" from archive/);
    // A re-run changes nothing on h5 (the clone is done, the data directory is in place).
    const again = await run('configure-cluster');
    expect(again.code).toBe(0);
    expect(changedSteps(again).filter((s) => s.startsWith('h5:'))).toEqual([]);
  }, 300_000);

  test('after a failover and a rejoin the new primary archives with no failure; --in-place --latest brings back every acknowledged row written after the failover', async () => {
    await stopHost(lab, 'h1');
    const f = await run('failover', '--yes');
    expect(f.code, f.stdout.slice(-3000)).toBe(0);
    const primary = (await primaryOf(lab, ['h2', 'h3', 'h5']))!;
    expect(primary).toBeDefined();
    await archives(primary);
    // Segments the dead primary never archived are a gap for restores from older backups: a backup right after the failover.
    // h1 is down: the backup is taken, and the exit code says a host was unreachable (4).
    const b = await run('backup');
    expect(b.code, b.stdout.slice(-2000)).toBe(4);
    expect(
      Object.entries(b.recap)
        .filter(([, s]) => s.unreachable > 0)
        .map(([h]) => h),
    ).toEqual(['h1']);
    expect(b.events.some((e) => e.type === 'result')).toBe(true);
    // Acknowledged writes after the failover (psql returns once the commit is acknowledged, by a sync replica too).
    for (let i = 0; i < 5; i++) await sql(lab, primary, `insert into t select generate_series(${1000 + i * 100}, ${1099 + i * 100})`);
    await startHost(lab, 'h1');
    const rj = await run('rejoin', '--host', 'h1');
    expect(rj.code, rj.stdout.slice(-3000)).toBe(0);
    await streamingFrom(lab, primary, 3);
    await sql(lab, primary, 'insert into t select generate_series(2000, 2099)');
    await archives(primary);
    const expected = await count(primary);
    expect(expected).toBe(200 + 600);

    const t = Date.now();
    const r = await run('restore-cluster', '--cluster', 'demo', '--latest', '--in-place', '--yes');
    expect(r.code, r.stdout.slice(-3000)).toBe(0);
    console.log(`restore-cluster --in-place --latest after failover and rejoin: ${Date.now() - t} ms`);
    const after = (await primaryOf(lab, ['h1', 'h2', 'h3', 'h5']))!;
    expect(await count(after)).toBe(expected);
    await streamingFrom(lab, after, 3);
    await archives(after);
    // Progress from the restore on the restore host, and from each replica cloned again with pg_basebackup.
    const restoreHost = (r.events.find((e) => e.type === 'result') as { data: { host: string } }).data.host;
    expect(progressOf(r, restoreHost, 'restore: pgbackrest restore').at(-1)).toMatchObject({ done: expect.any(Number) });
    const basebackups = changedSteps(r).flatMap((s) => /^(h\d): clone: pg_basebackup from/.exec(s)?.[1] ?? []);
    expect(basebackups.length).toBeGreaterThanOrEqual(1);
    for (const h of basebackups) expect(progressOf(r, h, 'clone').at(-1)?.total, h).toBeGreaterThan(50_000_000);
    // h5 was rebuilt from the repository again (its source), across the new timeline.
    expect(changedSteps(r).filter((s) => s.startsWith('h5: clone:'))[0] ?? '').toMatch(/pgbackrest restore --type=standby/);
  }, 600_000);
});
