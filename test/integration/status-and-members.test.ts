import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { cli } from '../../src/cli/entry.js';
import type { ClusterStatus } from '../../src/status/model.js';
import { STATUS_SQL, type LiveStatus } from '../../src/status/query.js';
import { sql, writeClusterInventory } from '../lab/cluster-inventory.js';
import { hostExec, labDown, labUp, type Lab } from '../lab/lab.js';
import { changedSteps, eventually, pgtasks } from './helpers/pgtasks.js';
import { labDescribe } from './helpers/lab-describe.js';
import { primaryOf as primaryOfLab } from './helpers/cluster-state.js';
import { given } from './helpers/scenario.js';

const LAB = 'stm';

/**
 * info-list on a real cluster in the states it must describe truthfully (issue 7, item 14), and members
 * leaving the cluster (item 13). One 4-host cluster for the whole file; tests run in order and each
 * puts back what it changed, except the last (a diverged replica).
 */
labDescribe('info-list tells the truth; members leave cleanly (lab)', () => {
  let lab: Lab;
  let inventory: string;
  let password: string;
  const write = (o: Parameters<typeof writeClusterInventory>[2] = {}) => writeClusterInventory(lab, inventory, { cluster: 'stm', syncReplicas: 1, ...o });
  const run = (...argv: string[]) => pgtasks(['-i', inventory, ...argv]);
  const address = (h: string) => lab.hosts.find((x) => x.name === h)!.address;
  const info = async () => {
    const r = await run('info-list');
    const e = r.events.find((x) => x.type === 'result');
    return { code: r.code, status: (e && e.type === 'result' ? (e.data as ClusterStatus[]) : [])[0]! };
  };
  const infoText = async () => {
    let out = '';
    await cli(['-i', inventory, 'info-list'], { stdout: (t) => void (out += t), stderr: (t) => void (out += t), isTTY: false, env: {} });
    return out;
  };
  const row = (s: ClusterStatus, h: string) => s.members.find((m) => m.host === h)!;
  const pgctl = async (h: string, action: 'start' | 'stop') => {
    const r = await hostExec(lab, h, `pg_ctlcluster ${action === 'stop' ? '-m fast ' : ''}15 stm ${action}`);
    if (r.code !== 0) throw new Error(`pg_ctlcluster ${action} on ${h}: ${r.stderr}`);
  };
  /** psql as admin over the host's loopback; the password comes from the here-document (never argv). `prefix` wraps psql. */
  const adminPsql = (h: string, port: number, db: string, command: string, prefix = '') =>
    hostExec(lab, h, `PGPASSWORD=$(cat <<'EOF'\n${password}\nEOF\n) ${prefix} psql -X -At -h 127.0.0.1 -p ${port} -U admin -d ${db} -c "${command}"`);
  const bouncerAdmin = (h: string, command: string) => adminPsql(h, 6432, 'pgbouncer', command);
  const inSync = async () => {
    const i = await eventually(info, (x) => x.status.summary.state === 'IN SYNC', 30_000);
    expect(i.status.summary.text).toBe('IN SYNC');
    return i;
  };

  const primaryOf = () => primaryOfLab(lab, ['h1', 'h2', 'h3', 'h4']);
  /** Each test starts from here: the inventory as first written, converged, h1 primary (helpers/scenario.ts), so it can run alone. */
  const start = () => given({ run, primaryOf, resetInventory: () => void write() }, 'h1');

  beforeAll(async () => {
    lab = await labUp({ hosts: 4, name: LAB });
    inventory = join(lab.dir, 'stm.yml');
    write();
    const r = await run('configure-cluster');
    expect(r.code, r.stdout).toBe(0);
    password = readFileSync(join(lab.dir, 'credentials', 'stm', 'admin.password'), 'utf8').trim();
    await sql(lab, 'h1', 'create table load (id int primary key, at timestamptz default now()); create table bulk (id int, pad text)');
  });

  afterAll(async () => {
    if (!process.env.PGTASKS_KEEP_LAB) await labDown(LAB);
  });

  test('every host with its address; IN SYNC', async () => {
    await start();
    const { code, status } = await inSync();
    expect(code).toBe(0);
    expect(status.members.map((m) => [m.host, m.address, m.role])).toEqual([
      ['h1', address('h1'), 'primary'],
      ['h2', address('h2'), 'replica'],
      ['h3', address('h3'), 'replica'],
      ['h4', address('h4'), 'replica'],
    ]);
    const text = await infoText();
    expect(text).toMatch(new RegExp(`h3 +replica +running +h1 .*${address('h3').replace(/\./g, '\\.')}`));
  });

  test('no negative lag or delay under write load', async () => {
    await start();
    // Commits back to back on h1 while the status query runs 200 times on a replica and info-list reads
    // the cluster: with now() (the statement's start) instead of clock_timestamp() about a quarter
    // of the replica's readings were negative on the lab.
    const writes = hostExec(
      lab,
      'h1',
      `for i in $(seq 1 3000); do echo "insert into bulk values ($i, 'x');"; done | runuser -u postgres -- psql -X -q -d postgres`,
    );
    const probe = hostExec(lab, 'h2', `runuser -u postgres -- psql -X -At -d postgres <<'EOF'\n${(STATUS_SQL + ';\n').repeat(200)}EOF`);
    const seen: { bytes: number[]; seconds: number[] } = { bytes: [], seconds: [] };
    for (let i = 0; i < 6; i++) {
      const { status } = await info();
      for (const m of status.members.filter((x) => x.role === 'replica')) {
        expect(m.lagBytes, `${m.host} lag`).toBeDefined();
        seen.bytes.push(m.lagBytes!);
        if (m.lagSeconds !== undefined) seen.seconds.push(m.lagSeconds);
      }
    }
    const rows = (await probe).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as LiveStatus);
    expect((await writes).code).toBe(0);
    expect(rows).toHaveLength(200);
    expect(rows.filter((r) => r.replay_delay !== null && r.replay_delay < 0)).toEqual([]);
    expect(Math.min(...seen.bytes)).toBeGreaterThanOrEqual(0);
    expect(Math.min(0, ...seen.seconds)).toBe(0);
    console.log(`lag under load: max ${Math.max(...seen.bytes)} B, ${Math.max(0, ...seen.seconds)} s over ${seen.bytes.length} readings`);
    await sql(lab, 'h1', 'truncate bulk');
    await inSync();
  });

  test('paused replay is shown, with the replica falling behind', async () => {
    await start();
    await sql(lab, 'h3', 'select pg_wal_replay_pause()');
    try {
      await sql(lab, 'h1', "insert into bulk select g, 'x' from generate_series(1, 1000) g");
      const { code, status } = await eventually(info, (i) => (row(i.status, 'h3').lagBytes ?? 0) > 0);
      expect(code).not.toBe(0);
      expect(row(status, 'h3')).toMatchObject({ state: 'replay paused', replayPaused: true });
      expect(status.summary.problems).toContain('h3 replay paused');
      expect(status.summary.advice.join('\n')).toMatch(/pg_wal_replay_resume\(\)" on h3/);
      expect(await infoText()).toMatch(/h3 +replica +replay paused +h1 /);
    } finally {
      await sql(lab, 'h3', 'select pg_wal_replay_resume()');
    }
    await inSync();
  });

  test('a setting waiting for a restart is shown', async () => {
    await start();
    await sql(lab, 'h3', 'alter system set max_connections = 150');
    await sql(lab, 'h3', 'select pg_reload_conf()');
    try {
      const { status } = await eventually(info, (i) => !!row(i.status, 'h3').pendingRestart);
      expect(row(status, 'h3')).toMatchObject({ state: 'restart pending', pendingRestart: ['max_connections'] });
      expect(status.summary.advice.join('\n')).toMatch(/h3: restart pending for max_connections/);
    } finally {
      // Taking a restart-only setting out of the file leaves it pending too (PostgreSQL's rule): restart.
      await sql(lab, 'h3', 'alter system reset max_connections');
      await hostExec(lab, 'h3', 'pg_ctlcluster 15 stm restart');
    }
    const { status } = await eventually(info, (i) => !row(i.status, 'h3').pendingRestart);
    expect(row(status, 'h3').state).toBe('running');
    await inSync();
  });

  test('no synchronous candidate streaming: WRITES BLOCKED, and commits really wait', async () => {
    await start();
    expect(await sql(lab, 'h1', 'show synchronous_standby_names')).not.toBe('');
    for (const h of ['h2', 'h3', 'h4']) await pgctl(h, 'stop');
    try {
      // A walsender outlives its replica by a moment.
      const { code, status } = await eventually(info, (i) => i.status.summary.state === 'WRITES BLOCKED');
      expect(code).not.toBe(0);
      expect(status.summary.state).toBe('WRITES BLOCKED');
      expect(status.summary.writesBlocked).toBe(true);
      expect(status.summary.text).toMatch(/^WRITES BLOCKED: 0 of 1 synchronous standby\(s\) streaming/);
      expect(status.summary.advice.join('\n')).toMatch(/every commit on h1 waits for 1 of h2/);
      // The truth behind it: a commit on h1 waits until cancelled (psql cancels on SIGINT after 2 s).
      const started = Date.now();
      const commit = await adminPsql('h1', 5432, 'postgres', 'insert into load (id) values (-1)', 'timeout -s INT 2');
      expect(commit.stderr).toMatch(/canceling wait for synchronous replication/);
      expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    } finally {
      for (const h of ['h2', 'h3', 'h4']) await pgctl(h, 'start');
    }
    await inSync();
  });

  test('a PAUSEd PgBouncer: a switchover in progress or unfinished, with the command that finishes it', async () => {
    await start();
    expect((await bouncerAdmin('h2', 'PAUSE')).code).toBe(0);
    try {
      const { code, status } = await info();
      expect(code).not.toBe(0);
      expect(status.summary.state).toBe('SWITCHOVER');
      expect(row(status, 'h2').pgbouncer).toEqual({ state: 'paused', routesTo: 'h1' });
      expect(row(status, 'h3').pgbouncer).toEqual({ state: 'running', routesTo: 'h1' });
      expect(status.summary.problems[0]).toBe('switchover or failover in progress or unfinished (PgBouncer paused on h2)');
      expect(await infoText()).toMatch(/\n! a switchover or failover is in progress or did not finish .*pgtasks configure-cluster/);
    } finally {
      await bouncerAdmin('h2', 'RESUME');
    }
    await inSync();
  });

  test('old primary stopped cleanly as a standby, no primary: SWITCHOVER, not "no primary"', async () => {
    await start();
    await pgctl('h1', 'stop');
    await hostExec(lab, 'h1', 'touch /var/lib/postgresql/15/stm/standby.signal');
    try {
      const { code, status } = await info();
      expect(code).not.toBe(0);
      expect(status.summary.state).toBe('SWITCHOVER');
      expect(status.summary.problems).not.toContain('no primary');
      expect(status.summary.problems[0]).toMatch(/^switchover or failover in progress or unfinished \(h1 stopped cleanly as a standby, no primary running/);
      expect(status.summary.advice.join('\n')).toMatch(/finish it with pgtasks configure-cluster/);
    } finally {
      await hostExec(lab, 'h1', 'rm -f /var/lib/postgresql/15/stm/standby.signal');
      await pgctl('h1', 'start');
    }
    await inSync();
  });

  test('pg_state: absent: --check shows the slot it would drop; the run stops PgBouncer there too', async () => {
    await start();
    write({ hostVars: { h4: { pg_state: 'absent' } } });
    const check = await run('--check', 'configure-cluster');
    expect(check.code, check.stdout).toBe(0);
    const planned = changedSteps(check).join('\n');
    expect(planned).toMatch(/^h1: replication slots: drop slot h4$/m);
    expect(planned).toMatch(/^h4: deactivate: pgbouncer: stop PgBouncer$/m);
    expect(await sql(lab, 'h1', "select count(*) from pg_replication_slots where slot_name = 'h4'")).toBe('1');
    expect((await hostExec(lab, 'h4', 'pgrep -x pgbouncer')).code).toBe(0);

    const r = await run('configure-cluster');
    expect(r.code, r.stdout).toBe(0);
    expect(await sql(lab, 'h1', "select count(*) from pg_replication_slots where slot_name = 'h4'")).toBe('0');
    expect((await hostExec(lab, 'h4', 'pgrep -x pgbouncer')).code).toBe(1);
    const client = await hostExec(lab, 'h1', `psql -X -At -h ${address('h4')} -p 6432 -U admin -d postgres -c 'select 1' </dev/null`);
    expect(client.stderr).toMatch(/refused/);
    // Nothing starts it again.
    const again = await run('configure-cluster');
    expect(changedSteps(again)).toEqual([]);
    expect((await hostExec(lab, 'h4', 'pgrep -x pgbouncer')).code).toBe(1);
    const { status } = await info();
    expect(row(status, 'h4')).toMatchObject({ state: 'deactivated', pgbouncer: { state: 'down' } });
    expect(status.summary.state).toBe('IN SYNC');
  });

  test('a slot of a host gone from the inventory: one warning with the command that drops it; never dropped', async () => {
    await start();
    // h5 was a replica; its host was deleted from the inventory after it was shut down.
    await sql(lab, 'h1', "select pg_create_physical_replication_slot('h5')");
    const r = await run('configure-cluster');
    expect(r.code).toBe(0);
    const warnings = r.events.filter((e) => e.type === 'message' && /replication slot h5/.test(e.text)).map((e) => (e.type === 'message' ? e.text : ''));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^WARNING: replication slot h5 on h1 matches no host in the inventory: it keeps WAL/);
    const command = /drop it on h1: (sudo .*)$/.exec(warnings[0]!)![1]!;
    expect(await sql(lab, 'h1', "select count(*) from pg_replication_slots where slot_name = 'h5'")).toBe('1');
    // The command given works as printed.
    expect((await hostExec(lab, 'h1', command)).code).toBe(0);
    expect(await sql(lab, 'h1', "select count(*) from pg_replication_slots where slot_name = 'h5'")).toBe('0');
  });

  test('a replica that cannot follow the new primary: shown, with pgtasks rejoin', async () => {
    await start();
    // h2 stops; h3 receives more from h1; h1 stops; h2 is promoted by hand: its timeline 2 forks
    // off timeline 1 before what h3 already has.
    await pgctl('h2', 'stop');
    await sql(lab, 'h1', "set synchronous_commit = local; insert into bulk select g, 'after h2 stopped' from generate_series(1, 1000) g");
    const target = await sql(lab, 'h1', 'select pg_current_wal_lsn()');
    await eventually(
      () => sql(lab, 'h3', `select pg_last_wal_replay_lsn() >= '${target}'`),
      (v) => v === 't',
    );
    await pgctl('h1', 'stop');
    await pgctl('h2', 'start');
    await sql(lab, 'h2', 'select pg_promote(true, 60)');
    const history = await sql(lab, 'h2', "select pg_read_file('pg_wal/00000002.history')");
    const fork = /^1\t(\S+)\t/.exec(history)![1]!;

    const { code, status } = await info();
    expect(code).not.toBe(0);
    expect(row(status, 'h2')).toMatchObject({ role: 'primary', timeline: 2 });
    expect(row(status, 'h3')).toMatchObject({ role: 'replica', state: 'cannot follow', timeline: 1 });
    expect(row(status, 'h3').cannotFollow).toMatch(new RegExp(`^the primary's timeline 2 forked off timeline 1 at ${fork}, before this replica's position `));
    expect(status.summary.problems).toContain('h3 cannot follow h2');
    const text = await infoText();
    expect(text).toMatch(/h3 +replica +cannot follow /);
    expect(text).toMatch(/\n! h3 cannot follow h2: .*run: pgtasks rejoin --host h3/);
  });
});
