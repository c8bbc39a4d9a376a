import { describe, expect, test } from 'vitest';
import { forEachCluster, fleetSummary } from '../../src/cluster/fleet.js';
import { pgVarsSchema, type ClusterSpec } from '../../src/cluster/vars.js';
import type { RunEvent } from '../../src/engine/events.js';
import { Run } from '../../src/engine/run.js';

const spec = (name: string, hosts: string[]): ClusterSpec => ({
  name,
  members: hosts.map((host) => ({ host, address: host, vars: pgVarsSchema.parse({ pg_cluster: name }) })),
  port: 5432,
  syncReplicas: 0,
  credentialsDir: '/nonexistent',
});

function fleetRun(forks: number) {
  const events: RunEvent[] = [];
  const run = new Run(
    async () => ({ hosts: new Map(), groups: new Map(), sources: [] }) as never,
    { check: false, diff: false, verbose: false, forks, json: true },
    {
      emit: (e) => events.push(e),
    },
  );
  return { run, events };
}

describe('a fleet of clusters: at once, bounded by --forks, one failing does not stop the others', () => {
  test('clusters of 3 with forks 6: two at a time', async () => {
    const { run } = fleetRun(6);
    let running = 0;
    let most = 0;
    const specs = ['a', 'b', 'c', 'd', 'e'].map((c) => spec(c, [`${c}1`, `${c}2`, `${c}3`]));
    await forEachCluster(run, specs, async () => {
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, 30));
      running--;
    });
    expect(most).toBe(2);
  });

  test('a refused and a failing cluster: the others converge; the summary names them; the error comes last', async () => {
    const { run, events } = fleetRun(10);
    const done: string[] = [];
    const specs = ['a', 'b', 'c'].map((c) => spec(c, [`${c}1`]));
    await expect(
      forEachCluster(run, specs, async (s) => {
        if (s.name === 'a') throw new Error('lost the connection');
        if (s.name === 'b') return run.refuse('cluster b: two primaries');
        done.push(s.name);
      }),
    ).rejects.toThrow('lost the connection');
    expect(done).toEqual(['c']);
    const summary = events.filter((e) => e.type === 'message').map((e) => (e.type === 'message' ? e.text : ''));
    expect(summary.at(-1)).toBe('3 clusters: 1 converged, 1 refused (b: cluster b: two primaries), 1 failed (a: lost the connection)');
  });

  test('one cluster: no summary line', async () => {
    const { run, events } = fleetRun(10);
    await forEachCluster(run, [spec('a', ['a1'])], async () => {});
    expect(events).toEqual([]);
  });

  test('summary wording', () => {
    expect(
      fleetSummary([
        { cluster: 'a', state: 'converged' },
        { cluster: 'b', state: 'unreachable', detail: 'b2 unreachable' },
      ]),
    ).toBe('2 clusters: 1 converged, 1 unreachable (b: b2 unreachable)');
  });
});
