import { describe, expect, test } from 'vitest';
import { pgVarsSchema } from '../../src/cluster/vars.js';
import { clusterStatus, type MemberObservation } from '../../src/status/model.js';
import type { LiveStatus } from '../../src/status/query.js';
import { renderStatus } from '../../src/status/render.js';

const member = (host: string) => ({ host, address: `10.0.0.${host.slice(1)}`, vars: pgVarsSchema.parse({ pg_cluster: 'c' }) });
const live = (extra: Partial<LiveStatus>): LiveStatus => ({
  recovery: false, version: '15.18 (Debian)', timeline: 1, lsn: '0/5000000', upstream: null, receiver: null, replay_delay: null,
  connections: 3, max_connections: 100, size: 22_000_000, replicas: [], ...extra,
});
const primary = (lag: number, seconds: number | null = null) =>
  live({
    replicas: [
      { name: 'h2', state: 'streaming', sync: 'sync', replay_lsn: '0/5000000', lag_bytes: 0, replay_lag: null },
      { name: 'h3', state: 'streaming', sync: 'async', replay_lsn: '0/4000000', lag_bytes: lag, replay_lag: seconds },
    ],
  });
const replica = () => live({ recovery: true, upstream: '10.0.0.1', receiver: 'streaming' });
const obs = (o: Partial<MemberObservation> & { host: string }): MemberObservation => ({ member: member(o.host), ...o });

describe('info-list: cluster verdict', () => {
  test('healthy cluster is IN SYNC, with upstream names and sync states', () => {
    const s = clusterStatus('c', [obs({ host: 'h1', live: primary(0) }), obs({ host: 'h2', live: replica() }), obs({ host: 'h3', live: replica() })]);
    expect(s.summary.state).toBe('IN SYNC');
    expect(s.members.map((m) => [m.host, m.role, m.upstream, m.sync])).toEqual([
      ['h1', 'primary', undefined, undefined],
      ['h2', 'replica', 'h1', 'sync'],
      ['h3', 'replica', 'h1', 'async'],
    ]);
  });

  test('a lagging replica gives DELAY with the largest lag', () => {
    const s = clusterStatus('c', [obs({ host: 'h1', live: primary(5 * 1024 * 1024, 2.5) }), obs({ host: 'h2', live: replica() }), obs({ host: 'h3', live: replica() })]);
    expect(s.summary).toMatchObject({ state: 'DELAY', text: 'DELAY 5.0 MB, 2.5 s', maxLagBytes: 5 * 1024 * 1024 });
  });

  test('an unreachable member, a stopped one, a replica not streaming: DEGRADED', () => {
    const s = clusterStatus('c', [obs({ host: 'h1', live: primary(0) }), obs({ host: 'h2', unreachable: true }), obs({ host: 'h3', live: live({ recovery: true, receiver: null }) })]);
    expect(s.summary.state).toBe('DEGRADED');
    expect(s.summary.problems).toEqual(['h2 unreachable', 'h3 not streaming']);
  });

  test('two primaries or none: DEGRADED', () => {
    expect(clusterStatus('c', [obs({ host: 'h1', live: primary(0) }), obs({ host: 'h2', live: live({}) })]).summary.problems).toContain('2 primaries: h1, h2');
    expect(clusterStatus('c', [obs({ host: 'h2', live: replica() })]).summary.problems).toContain('no primary');
  });

  test('the table has no colour codes off a TTY, and colour on one', () => {
    const s = clusterStatus('c', [obs({ host: 'h1', live: primary(0) }), obs({ host: 'h2', live: replica() }), obs({ host: 'h3', live: replica() })]);
    const plain = renderStatus([s], false);
    expect(plain).not.toMatch(/\x1b\[/);
    expect(plain).toMatch(/^CLUSTER c {2}IN SYNC\nHOST +ROLE +STATE/);
    expect(plain).toMatch(/h2 +replica +running +h1 +1 +0\/5000000 +0 B +- +sync +15\.18 +3\/100 +21\.0 MB/);
    expect(Math.max(...plain.split('\n').map((l) => l.length))).toBeLessThanOrEqual(120);
    expect(renderStatus([s], true)).toMatch(/\x1b\[32mIN SYNC/);
  });
});
