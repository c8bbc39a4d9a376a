import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { hostExec, labDown, labUp, startHost, stopHost, type Lab } from '../lab/lab.js';
import { sql, writeClusterInventory } from '../lab/cluster-inventory.js';
import { startLoad } from '../lab/load.js';
import { primaryOf as primaryOfLab, streamingFrom as streamingFromLab } from './helpers/cluster-state.js';
import { given } from './helpers/scenario.js';
import { changedSteps, eventually, pgtasks, waitFor } from './helpers/pgtasks.js';
import { spawnPgtasks } from './helpers/cli-process.js';
import { labDescribe } from './helpers/lab-describe.js';

const LAB = 'mig';

labDescribe('migrate-to-master, failover and rejoin on the lab (real PgBouncer and PostgreSQL)', () => {
  let lab: Lab;
  let inventory: string;
  let password: string;
  const run = (...argv: string[]) => pgtasks(['-i', inventory, ...argv]);
  const address = (h: string) => lab.hosts.find((x) => x.name === h)!.address;
  const primaryOf = () => primaryOfLab(lab, ['h1', 'h2', 'h3']);
  const streamingFrom = (primary: string) => streamingFromLab(lab, primary);
  const countOn = (h: string, n: number) =>
    eventually(
      () => sql(lab, h, 'select count(*) from load').catch(() => ''),
      (v) => v === String(n),
    );

  /** Each test starts from here: converged, `primary` the primary (helpers/scenario.ts), so it can run alone. */
  const start = (primary: string) => given({ run, primaryOf }, primary);

  beforeAll(async () => {
    lab = await labUp({ hosts: 3, name: LAB });
    inventory = writeClusterInventory(lab, join(lab.dir, 'mig.yml'), { cluster: 'mig', syncReplicas: 1 });
    const r = await run('configure-cluster');
    expect(r.code, r.stderr).toBe(0);
    password = readFileSync(join(lab.dir, 'credentials', 'mig', 'admin.password'), 'utf8').trim();
    await sql(lab, 'h1', 'create table load (id int primary key, at timestamptz default now())');
  });

  afterAll(async () => {
    if (!process.env.PGTASKS_KEEP_LAB) await labDown(LAB);
  });

  async function migrateUnderLoad(from: string, to: string) {
    const before = Number(await sql(lab, from, 'select count(*) from load'));
    const load = startLoad(address('h3' === to || 'h3' === from ? 'h2' : 'h3'), 6432, password);
    // Deliberate durations, not waits for a condition: the load writes 1 s before the switchover (so
    // there are writes to lose) and 1 s after it (so clients are seen writing to the new primary).
    await new Promise((r) => setTimeout(r, 1000));
    const r = await run('migrate-to-master', '--target', to);
    await new Promise((r) => setTimeout(r, 1000));
    const result = await load.stop();
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(result.failures.slice(0, 3)).toEqual([]);
    expect(result.committed.length).toBeGreaterThan(20);
    expect(await primaryOf()).toBe(to);
    const total = before + result.committed.length;
    expect(await sql(lab, to, `select count(*) from load where id in (${result.committed.join(',')})`)).toBe(String(result.committed.length));
    for (const h of ['h1', 'h2', 'h3']) expect(await countOn(h, total)).toBe(String(total));
    expect((await streamingFrom(to)).split(',')).toContain(from);
    const timing = r.events.find((e) => e.type === 'result');
    return { result, timing: timing && timing.type === 'result' ? (timing.data as { timings: Record<string, number> }).timings : {} };
  }

  test('switchover h1 -> h2 under load: no failed client, no lost row, old primary follows', async () => {
    await start('h1');
    const { result, timing } = await migrateUnderLoad('h1', 'h2');
    expect(timing.clientsPaused).toBeGreaterThan(0);
    console.log(`h1->h2: ${result.committed.length} commits, longest write gap ${result.longestGapMs} ms, clients paused ${timing.clientsPaused} ms`);
    const info = await run('info-list');
    const data = info.events.find((e) => e.type === 'result');
    const members = data && data.type === 'result' ? (data.data as { members: { host: string; role: string; upstream?: string }[] }[])[0]!.members : [];
    expect(members.find((m) => m.host === 'h1')).toMatchObject({ role: 'replica', upstream: 'h2' });
    expect(changedSteps(await run('configure-cluster'))).toEqual([]);
  });

  test('there and back again, several times', async () => {
    await start('h2');
    await migrateUnderLoad('h2', 'h1');
    await migrateUnderLoad('h1', 'h2');
    await migrateUnderLoad('h2', 'h1');
  });

  test('refused preconditions leave the cluster exactly as it was', async () => {
    await start('h1');
    const hosts = ['h1', 'h2', 'h3'];
    const state = async (up = hosts) => Promise.all(up.map((h) => sql(lab, h, 'select pg_is_in_recovery()')));
    const before = await state();
    const refusedWith = async (pattern: RegExp, ...argv: string[]) => {
      const up = hosts.filter((h) => lab.hosts.find((x) => x.name === h) && !down.has(h));
      const r = await run('migrate-to-master', ...argv);
      expect(r.code).not.toBe(0);
      expect(r.stdout + r.stderr).toMatch(pattern);
      expect(changedSteps(r)).toEqual([]);
      expect(await state(up)).toEqual(before.filter((_, i) => up.includes(hosts[i]!)));
    };
    const down = new Set<string>();
    await refusedWith(/--target nope: no such host/, '--target', 'nope');
    const check = await run('--check', 'migrate-to-master', '--target', 'h2');
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(/plan: prepare .*; pause PgBouncer \(at most 5000 ms\); stop h1 cleanly and mark it standby; promote h2/);
    // Check mode goes through the same engine steps, which only say what they would do.
    expect(check.events.filter((e) => e.type === 'step' && e.status === 'changed' && !e.check)).toEqual([]);
    expect(changedSteps(check)).toContain('h1: switchover: stop: stop h1 cleanly (fast shutdown), mark it standby');
    expect(await state()).toEqual(before);
    await refusedWith(/h1 is already the primary/, '--target', 'h1');
    // A lagging target: replay paused while the primary writes.
    await sql(lab, 'h3', 'select pg_wal_replay_pause()');
    await sql(lab, 'h1', 'insert into load (id) select g from generate_series(1000000, 1020000) g');
    await refusedWith(/h3 lags \d+ bytes behind h1/, '--target', 'h3', '--max-lag', '0.1');
    await sql(lab, 'h3', 'select pg_wal_replay_resume()');
    // A long transaction on the primary.
    void hostExec(lab, 'h1', `runuser -u postgres -- psql -X -c 'begin; select txid_current(); select pg_sleep(6); commit'`);
    await waitFor(
      'the transaction on h1 open for more than 1 s',
      async () =>
        (await sql(
          lab,
          'h1',
          "select count(*) from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid() and now() - xact_start > interval '1.2 s'",
        )) === '1',
      10_000,
    );
    await refusedWith(/has been open \d+\.\d s \(--max-tx-age is 1 s/, '--target', 'h2', '--max-tx-age', '1');
    // A member unreachable.
    await stopHost(lab, 'h3');
    down.add('h3');
    try {
      await refusedWith(/h3 is unreachable/, '--target', 'h2');
    } finally {
      await startHost(lab, 'h3');
      down.delete('h3');
    }
    expect((await run('configure-cluster')).code).toBe(0);
  });

  test('primary host dies: failover promotes without losing a committed row; rejoin brings it back with pg_rewind', async () => {
    await start('h1');
    const primary = (await primaryOf())!;
    await sql(lab, primary, 'insert into load (id) select g from generate_series(2000000, 2000999) g'); // committed on the sync replica too
    const expected = await sql(lab, primary, 'select count(*) from load');
    await stopHost(lab, primary);
    const f = await run('failover', '--yes');
    // The dead primary is reported unreachable, but it is the premise of a failover, not a failure.
    expect(f.code, f.stdout).toBe(0);
    const done = f.events.find((e) => e.type === 'result' && e.task === 'failover');
    expect(done && done.type === 'result' && done.data).toMatchObject({ cluster: 'mig', excluded: [primary] });
    const promoted = (await primaryOf())!;
    expect(promoted).not.toBe(primary);
    expect(await sql(lab, promoted, 'select count(*) from load')).toBe(expected);
    await startHost(lab, primary);
    const refused = await run('configure-cluster');
    expect(refused.stdout).toMatch(/split brain/);
    const r = await run('rejoin', '--host', primary);
    expect(r.stderr).toBe('');
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/pg_rewind/);
    expect(await sql(lab, primary, 'select pg_is_in_recovery()')).toBe('t');
    expect(await countOn(primary, Number(expected))).toBe(expected);
    expect((await streamingFrom(promoted)).split(',')).toContain(primary);
    expect(changedSteps(await run('configure-cluster'))).toEqual([]);

    // --full: the data directory is kept aside, a fresh clone takes its place.
    const full = await run('rejoin', '--host', primary, '--full');
    expect(full.code).toBe(0);
    expect(changedSteps(full).join('\n')).toMatch(
      new RegExp(
        `${primary}: rejoin: set aside: .*kept as /var/lib/postgresql/15/mig\\.rejoin-\\d{8}T\\d{6}[\\s\\S]*${primary}: clone: pg_basebackup from ${promoted}`,
      ),
    );
    expect(await countOn(primary, Number(expected))).toBe(expected);
    expect((await hostExec(lab, primary, 'ls /var/lib/postgresql/15')).stdout).toMatch(/^mig\nmig\.rejoin-\d{8}T\d{6}\n$/);
  });
  /** From h1 as primary: its host dies, failover promotes another, and the dead host powers on again, not rejoined yet. */
  async function failedOverAndBack(): Promise<{ primary: string; promoted: string }> {
    await start('h1');
    const primary = (await primaryOf())!;
    await stopHost(lab, primary);
    expect((await run('failover', '--yes')).code).toBe(0);
    const promoted = (await primaryOfLab(
      lab,
      ['h1', 'h2', 'h3'].filter((h) => h !== primary),
    ))!;
    await startHost(lab, primary);
    return { primary, promoted };
  }

  test('a failover killed right after its promotion: running failover again finishes it instead of refusing for the new primary', async () => {
    await start('h1');
    const primary = (await primaryOf())!;
    await stopHost(lab, primary);
    const killed = spawnPgtasks(['-i', inventory, 'failover', '--yes']);
    const promote = await killed.waitFor((e) => e.type === 'step' && e.step === 'failover: promote' && e.status === 'changed');
    expect(promote).toBeDefined();
    killed.kill();
    await killed.done;
    const promoted = (await primaryOfLab(
      lab,
      ['h1', 'h2', 'h3'].filter((h) => h !== primary),
    ))!;
    expect(promoted).toBeDefined();

    const again = await run('failover', '--yes');
    expect(again.code, again.stdout).toBe(0);
    expect(again.stdout).toMatch(
      new RegExp(`the failover before this run \\(.*failover by .*\\) did not finish; ${promoted} runs as primary: finishing it \\(${primary} left out`),
    );
    const other = ['h1', 'h2', 'h3'].find((h) => h !== primary && h !== promoted)!;
    expect(await streamingFromLab(lab, promoted, 1)).toBe(other);
    // Nothing unfinished any more: a failover now refuses for the running primary (the dead host: exit 4).
    const third = await run('failover', '--yes');
    expect(third.stdout).toMatch(/is a running primary; use migrate-to-master/);
    await startHost(lab, primary);
    expect((await run('rejoin', '--host', primary)).code).toBe(0);
    expect(changedSteps(await run('configure-cluster'))).toEqual([]);
  });

  test('a rewound data directory not yet marked standby (a rejoin killed between pg_rewind and the mark): rejoin only marks it, and it streams', async () => {
    const { primary, promoted } = await failedOverAndBack();
    // What such a rejoin leaves: pg_rewind done (backup_label, control file in archive recovery), no standby.signal.
    await sql(lab, promoted, 'CHECKPOINT');
    const source = `host=${address(promoted)} port=5432 user=admin dbname=postgres sslmode=verify-full sslrootcert=/etc/postgresql/15/mig/root.crt`;
    const rewind = await hostExec(
      lab,
      primary,
      `cd / && PGPASSWORD='${password}' runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_rewind --target-pgdata=/var/lib/postgresql/15/mig --config-file=/etc/postgresql/15/mig/postgresql.conf --source-server='${source}' 2>&1`,
    );
    expect(rewind.code, rewind.stdout).toBe(0);
    // The primary moves on past the point the rewind copied.
    await sql(lab, promoted, 'insert into load (id) select g from generate_series(3000000, 3000099) g');
    const expected = await sql(lab, promoted, 'select count(*) from load');
    const r = await run('rejoin', '--host', primary);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/rewound by an earlier run already \(its backup_label and control file say so\): only marked standby/);
    expect((await streamingFrom(promoted)).split(',')).toContain(primary);
    expect(await countOn(primary, Number(expected))).toBe(expected);
    expect(changedSteps(await run('configure-cluster'))).toEqual([]);
  });

  test('a pg_rewind that did not finish (its marker left in the postgres home folder): rejoin does not rewind it again; --full re-clones and clears the marker', async () => {
    const { primary, promoted } = await failedOverAndBack();
    await hostExec(lab, primary, 'runuser -u postgres -- touch /var/lib/postgresql/.pgtasks-mig.rewinding');
    const r = await run('rejoin', '--host', primary);
    expect(r.code, r.stdout).toBe(2);
    expect(r.stdout).toMatch(
      new RegExp(`an earlier pg_rewind of this data directory did not finish: it cannot be trusted.*try 'pgtasks rejoin --host ${primary} --full'`),
    );
    const full = await run('rejoin', '--host', primary, '--full');
    expect(full.code, full.stdout).toBe(0);
    expect((await hostExec(lab, primary, 'ls -A /var/lib/postgresql')).stdout).not.toMatch(/rewinding/);
    expect((await streamingFrom(promoted)).split(',')).toContain(primary);
    expect(changedSteps(await run('configure-cluster'))).toEqual([]);
  });
});
