import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nodeFacts } from './helpers/node-facts.js';
import { describe, expect, test } from 'vitest';
import { pgVarsSchema } from '../../src/cluster/vars.js';
import type { PgNodeFacts } from '../../src/facts/postgres.js';
import { clusterStatus, type MemberObservation } from '../../src/status/model.js';
import type { LiveStatus } from '../../src/status/query.js';
import { renderStatus } from '../../src/status/render.js';
import { parseSyncNames, syncVerdict } from '../../src/status/sync-names.js';

const member = (host: string, vars: Record<string, unknown> = {}) => ({
  host,
  address: `10.0.0.${host.slice(1)}`,
  vars: pgVarsSchema.parse({ pg_cluster: 'c', ...vars }),
});
const live = (extra: Partial<LiveStatus>): LiveStatus => ({
  recovery: false,
  version: '15.18 (Debian)',
  timeline: 1,
  lsn: '0/5000000',
  upstream: null,
  receiver: null,
  replay_delay: null,
  connections: 3,
  max_connections: 100,
  size: 22_000_000,
  replicas: [],
  sync_names: '',
  pending_restart: [],
  ...extra,
});
const primary = (lag: number, seconds: number | null = null, extra: Partial<LiveStatus> = {}) =>
  live({
    lsn: '0/5000000',
    replicas: [
      { name: 'h2', state: 'streaming', sync: 'sync', replay_lsn: '0/5000000', lag_bytes: 0, replay_lag: null },
      { name: 'h3', state: 'streaming', sync: 'async', replay_lsn: '0/4000000', lag_bytes: lag, replay_lag: seconds },
    ],
    ...extra,
  });
const replica = (extra: Partial<LiveStatus> = {}) => live({ recovery: true, upstream: '10.0.0.1', receiver: 'streaming', ...extra });
const obs = (o: Partial<MemberObservation> & { host: string }): MemberObservation => ({ member: member(o.host), ...o });
const stoppedFacts = (extra: Partial<PgNodeFacts> & { controlState?: string }) =>
  nodeFacts('REPLICA', {
    cluster: 'c',
    configured: true,
    running: false,
    systemIdentifier: undefined,
    timeline: undefined,
    lsn: undefined,
    ...extra,
  }) as PgNodeFacts & {
    controlState?: string;
  };
const healthy = () => [
  obs({ host: 'h1', live: primary(0) }),
  obs({ host: 'h2', live: replica({ lsn: '0/5000000' }) }),
  obs({ host: 'h3', live: replica({ lsn: '0/5000000' }) }),
];

describe('info-list: cluster verdict', () => {
  test('healthy cluster is IN SYNC, with upstream names, sync states and addresses', () => {
    const s = clusterStatus('c', healthy());
    expect(s.summary.state).toBe('IN SYNC');
    expect(s.summary.advice).toEqual([]);
    expect(s.members.map((m) => [m.host, m.address, m.role, m.upstream, m.sync])).toEqual([
      ['h1', '10.0.0.1', 'primary', undefined, undefined],
      ['h2', '10.0.0.2', 'replica', 'h1', 'sync'],
      ['h3', '10.0.0.3', 'replica', 'h1', 'async'],
    ]);
  });

  test('lag is the primary current LSN minus the replica replay LSN', () => {
    const s = clusterStatus('c', [
      obs({ host: 'h1', live: primary(0, 2.5, { lsn: '0/5500000' }) }),
      obs({ host: 'h2', live: replica({ lsn: '0/5500000' }) }),
      obs({ host: 'h3', live: replica({ lsn: '0/5000000' }) }),
    ]);
    expect(s.members.map((m) => m.lagBytes)).toEqual([undefined, 0, 5 * 1024 * 1024]);
    expect(s.summary).toMatchObject({ state: 'DELAY', text: 'DELAY 5.0 MB, 2.5 s', maxLagBytes: 5 * 1024 * 1024 });
  });

  test('never a negative lag: a replica read after the primary moved on, a negative delay', () => {
    const s = clusterStatus('c', [
      obs({ host: 'h1', live: primary(0, null, { lsn: '0/5000000', replicas: [] }) }),
      obs({ host: 'h2', live: replica({ lsn: '0/5001000' }) }),
      obs({ host: 'h3', live: replica({ lsn: null, receiver: null, replay_delay: -0.4 }) }),
    ]);
    expect(s.members[1]!.lagBytes).toBe(0);
    expect(s.members[2]!.lagSeconds).toBe(0);
    const noPrimary = clusterStatus('c', [obs({ host: 'h2', live: replica({ replay_delay: -1 }) })]);
    expect(noPrimary.members[0]!.lagSeconds).toBe(0);
  });

  test('an unreachable member, a stopped one, a replica not streaming: DEGRADED', () => {
    const s = clusterStatus('c', [
      obs({ host: 'h1', live: primary(0) }),
      obs({ host: 'h2', unreachable: true }),
      obs({ host: 'h3', live: live({ recovery: true, receiver: null }) }),
    ]);
    expect(s.summary.state).toBe('DEGRADED');
    expect(s.summary.problems).toEqual(['h2 unreachable', 'h3 not streaming']);
  });

  test('two primaries or none: DEGRADED; no primary says what to run', () => {
    expect(clusterStatus('c', [obs({ host: 'h1', live: primary(0) }), obs({ host: 'h2', live: live({}) })]).summary.problems).toContain('2 primaries: h1, h2');
    const none = clusterStatus('c', [obs({ host: 'h2', live: replica() })]);
    expect(none.summary.problems).toContain('no primary');
    expect(none.summary.advice.join('\n')).toMatch(/pgtasks failover/);
    const stopped = clusterStatus('c', [
      obs({ host: 'h1', facts: stoppedFacts({ state: 'PRIMARY', controlState: 'shut down' }) }),
      obs({ host: 'h2', live: replica() }),
    ]);
    expect(stopped.summary.state).toBe('DEGRADED');
    expect(stopped.summary.advice.join('\n')).toMatch(/h1 is the primary and is stopped; pgtasks configure-cluster starts it/);
  });

  test('paused replay and pending restart are shown', () => {
    const s = clusterStatus('c', [
      obs({ host: 'h1', live: primary(0, null, { pending_restart: ['max_connections', 'shared_buffers'] }) }),
      obs({ host: 'h2', live: replica({ lsn: '0/5000000', replay_paused: true }) }),
      obs({ host: 'h3', live: replica({ lsn: '0/5000000' }) }),
    ]);
    expect(s.members.map((m) => m.state)).toEqual(['restart pending', 'replay paused', 'running']);
    expect(s.members[0]!.pendingRestart).toEqual(['max_connections', 'shared_buffers']);
    expect(s.summary.problems).toEqual(['h2 replay paused']);
    expect(s.summary.advice.join('\n')).toMatch(/h1: restart pending for max_connections, shared_buffers/);
    expect(s.summary.advice.join('\n')).toMatch(/pg_wal_replay_resume\(\)" on h2/);
  });
});

describe('info-list: writes blocked', () => {
  const withSync = (names: string, streaming: string[]) =>
    clusterStatus('c', [
      obs({
        host: 'h1',
        live: primary(0, null, {
          sync_names: names,
          replicas: streaming.map((n) => ({ name: n, state: 'streaming', sync: 'potential', replay_lsn: '0/5000000', lag_bytes: 0, replay_lag: null })),
        }),
      }),
      obs({ host: 'h2', live: replica({ lsn: '0/5000000', receiver: streaming.includes('h2') ? 'streaming' : null }) }),
      obs({ host: 'h3', live: replica({ lsn: '0/5000000', receiver: streaming.includes('h3') ? 'streaming' : null }) }),
    ]);

  test('FIRST 1 over two candidates: one streaming is enough', () => {
    const s = withSync('FIRST 1 ("h2", "h3")', ['h3']);
    expect(s.summary.writesBlocked).toBe(false);
    expect(s.summary.state).toBe('DEGRADED');
  });

  test('no candidate streaming: WRITES BLOCKED, said plainly, with what to do', () => {
    const s = withSync('FIRST 1 ("h2")', ['h3']);
    expect(s.summary.state).toBe('WRITES BLOCKED');
    expect(s.summary.text).toMatch(/^WRITES BLOCKED: 0 of 1 synchronous standby\(s\) streaming; h2 not streaming/);
    expect(s.summary.advice.join('\n')).toMatch(/every commit on h1 waits for 1 of h2 .*pg_sync_replicas/);
  });

  test('FIRST 2 with one streaming blocks; ANY 1 with one streaming does not', () => {
    expect(withSync('FIRST 2 (h2, h3)', ['h2']).summary.writesBlocked).toBe(true);
    expect(withSync('ANY 1 (h2, h3)', ['h2']).summary.writesBlocked).toBe(false);
    expect(withSync('', []).summary.writesBlocked).toBe(false);
  });

  test('synchronous_standby_names forms', () => {
    expect(parseSyncNames('')).toBeUndefined();
    expect(parseSyncNames('FIRST 1 ("h2", "h3")')).toEqual({ method: 'first', num: 1, names: ['h2', 'h3'] });
    expect(parseSyncNames('any 2 (a,b,c)')).toEqual({ method: 'any', num: 2, names: ['a', 'b', 'c'] });
    expect(parseSyncNames('2 (a, b)')).toEqual({ method: 'first', num: 2, names: ['a', 'b'] });
    expect(parseSyncNames('a, "B,""x"""')).toEqual({ method: 'first', num: 1, names: ['a', 'B,"x"'] });
    expect(syncVerdict('*', ['anything'])).toMatchObject({ blocked: false, streaming: 1 });
    expect(syncVerdict('FIRST 1 (H2)', ['h2'])).toMatchObject({ blocked: false });
  });
});

describe('info-list: switchover, PgBouncer, timelines', () => {
  test('old primary stopped cleanly as a standby and no primary: SWITCHOVER, not "no primary"', () => {
    const s = clusterStatus('c', [
      obs({ host: 'h1', facts: stoppedFacts({ state: 'REPLICA', controlState: 'shut down' }) }),
      obs({ host: 'h2', live: replica({ receiver: null }) }),
      obs({ host: 'h3', live: replica({ receiver: null }), bouncer: { paused: true, host: '10.0.0.1' } }),
    ]);
    expect(s.summary.state).toBe('SWITCHOVER');
    expect(s.summary.problems).not.toContain('no primary');
    expect(s.summary.problems[0]).toBe(
      'switchover or failover in progress or unfinished (h1 stopped cleanly as a standby, no primary running, PgBouncer paused on h3)',
    );
    expect(s.summary.advice.join('\n')).toMatch(/finish it with pgtasks configure-cluster/);
  });

  test('a replica stopped in recovery is no switchover sign', () => {
    const s = clusterStatus('c', [obs({ host: 'h1', live: primary(0) }), obs({ host: 'h2', facts: stoppedFacts({ controlState: 'shut down in recovery' }) })]);
    expect(s.summary.switchover).toBe(false);
  });

  test('a paused PgBouncer with a running primary is a switchover in progress too', () => {
    const list = healthy();
    list[1]!.bouncer = { paused: true, host: '10.0.0.1' };
    const s = clusterStatus('c', list);
    expect(s.summary.state).toBe('SWITCHOVER');
    expect(s.members[1]!.pgbouncer).toEqual({ state: 'paused', routesTo: 'h1' });
  });

  test('PgBouncer misrouted, down, or still running on a removed member', () => {
    const list = healthy();
    list[0]!.bouncer = { paused: false, host: '10.0.0.1' };
    list[1]!.bouncer = { paused: false, host: '10.0.0.2' };
    list[2]!.bouncer = null;
    const s = clusterStatus('c', [
      ...list,
      { member: member('h4', { pg_state: 'absent' }), facts: stoppedFacts({ state: 'DEACTIVATED' }), bouncer: { paused: false, host: '10.0.0.1' } },
    ]);
    expect(s.summary.problems).toEqual([
      'PgBouncer on h2 routes to h2, not the primary h1',
      'PgBouncer on h3 not running',
      'PgBouncer still runs on removed h4',
    ]);
  });

  test('a replica that cannot follow the primary timeline: shown, with pgtasks rejoin', () => {
    const history = readFileSync(join(__dirname, '..', 'fixtures', 'timeline', '00000002.history'), 'utf8');
    const s = clusterStatus('c', [
      obs({ host: 'h1', facts: stoppedFacts({ state: 'PRIMARY', controlState: 'in production' }) }),
      obs({ host: 'h2', live: live({ timeline: 2, lsn: '0/6000000', history, replicas: [] }) }),
      obs({ host: 'h3', live: replica({ timeline: 1, lsn: '0/5000100', received_lsn: '0/5000200', receiver: null }) }),
    ]);
    const h3 = s.members[2]!;
    expect(h3.state).toBe('cannot follow');
    expect(h3.cannotFollow).toBe("the primary's timeline 2 forked off timeline 1 at 0/5000198, before this replica's position 0/5000200");
    expect(h3.lagBytes).toBeUndefined();
    expect(s.summary.problems).toContain('h3 cannot follow h2');
    expect(s.summary.advice.join('\n')).toMatch(/h3 cannot follow h2: .*run: pgtasks rejoin --host h3/);
    // At the fork point it can follow: merely not streaming.
    const fine = clusterStatus('c', [
      obs({ host: 'h2', live: live({ timeline: 2, lsn: '0/6000000', history, replicas: [] }) }),
      obs({ host: 'h3', live: replica({ timeline: 1, lsn: '0/5000198', received_lsn: '0/5000198', receiver: null }) }),
    ]);
    expect(fine.members[1]!.cannotFollow).toBeUndefined();
    expect(fine.summary.problems).toEqual(['h3 not streaming']);
  });
});

describe('info-list: the table', () => {
  test('no colour codes off a TTY, colour on one; addresses; under 120 columns', () => {
    const s = clusterStatus('c', healthy());
    const plain = renderStatus([s], false);
    expect(plain).not.toMatch(/\x1b\[/);
    expect(plain).toMatch(/^CLUSTER c {2}IN SYNC\nHOST +ROLE +STATE/);
    expect(plain).toMatch(/h2 +replica +running +h1 +1 +0\/5000000 +0 B +- +sync +3\/100 +21\.0 MB +10\.0\.0\.2/);
    expect(plain).toMatch(/\nPostgreSQL 15\.18\n/);
    expect(Math.max(...plain.split('\n').map((l) => l.length))).toBeLessThanOrEqual(120);
    expect(renderStatus([s], true)).toMatch(/\x1b\[32mIN SYNC/);
  });

  test('problems come with one line each saying what to run', () => {
    const list = healthy();
    list[2] = obs({ host: 'h3', live: replica({ lsn: '0/5000000', replay_paused: true }) });
    const text = renderStatus([clusterStatus('c', list)], false);
    expect(text).toMatch(/^CLUSTER c {2}DEGRADED: h3 replay paused\n/);
    expect(text).toMatch(/\n! h3: WAL replay is paused/);
    expect(text).toMatch(/h3 +replica +replay paused +h1 /);
  });
});
