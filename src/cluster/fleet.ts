import pMap from 'p-map';
import type { Run } from '../engine/run.js';
import type { ClusterSpec } from './vars.js';

export interface ClusterOutcome {
  cluster: string;
  state: 'converged' | 'refused' | 'failed' | 'unreachable';
  /** Why, for anything but converged: the refusal, or the hosts that failed or could not be reached. */
  detail?: string;
}

/**
 * Runs `fn` on every cluster at once, as many at a time as --forks allows hosts (a cluster's own
 * order stays inside `fn`): with forks 10 and clusters of 3, three clusters run together. One
 * cluster refused or failed does not stop the others. With more than one cluster the run ends with
 * one line per cluster that did not converge and a summary ("10 clusters: 9 converged, 1 refused");
 * the exit code reflects the worst (the run's own rule: a failed host, then unreachable, then refused).
 */
export async function forEachCluster(run: Run, specs: ClusterSpec[], fn: (spec: ClusterSpec) => Promise<void>): Promise<ClusterOutcome[]> {
  const largest = Math.max(1, ...specs.map((s) => s.members.length));
  const errors: unknown[] = [];
  const concurrency = Math.max(1, Math.floor(run.options.forks / largest));
  const outcomes = await pMap(
    specs,
    async (spec): Promise<ClusterOutcome> => {
      const hosts = spec.members.map((m) => m.host);
      const before = new Map(hosts.map((h) => [h, { ...run.stats.get(h) }]));
      const refusals: string[] = [];
      try {
        await run.refusalScope.run(refusals, () => fn(spec));
      } catch (err) {
        // Not a host's failure (those are caught per host): this cluster stops here, the others go on,
        // and the error is raised again at the end (its exit code is the run's, as with one cluster).
        errors.push(err);
        return { cluster: spec.name, state: 'failed', detail: (err as Error).message.split('\n')[0] };
      }
      const grew = (key: 'failed' | 'unreachable') => hosts.filter((h) => (run.stats.get(h)?.[key] ?? 0) > (before.get(h)?.[key] ?? 0));
      const failed = grew('failed');
      const unreachable = grew('unreachable');
      if (failed.length) return { cluster: spec.name, state: 'failed', detail: `failed on ${failed.join(', ')}` };
      if (unreachable.length) return { cluster: spec.name, state: 'unreachable', detail: `${unreachable.join(', ')} unreachable` };
      if (refusals.length) return { cluster: spec.name, state: 'refused', detail: refusals[0] };
      return { cluster: spec.name, state: 'converged' };
    },
    { concurrency },
  );
  if (specs.length > 1) run.message(fleetSummary(outcomes));
  if (errors.length) throw errors[0];
  return outcomes;
}

/** "10 clusters: 9 converged, 1 refused (c3: two primaries ...)". */
export function fleetSummary(outcomes: ClusterOutcome[]): string {
  const order: ClusterOutcome['state'][] = ['converged', 'refused', 'failed', 'unreachable'];
  const parts = order.flatMap((state) => {
    const these = outcomes.filter((o) => o.state === state);
    if (!these.length) return [];
    const why = state === 'converged' ? '' : ` (${these.map((o) => `${o.cluster}: ${o.detail}`).join('; ')})`;
    return [`${these.length} ${state}${why}`];
  });
  return `${outcomes.length} clusters: ${parts.join(', ')}`;
}
