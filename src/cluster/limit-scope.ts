import { UserError } from '../errors.js';
import type { Run } from '../engine/run.js';
import type { ClusterSpec } from './vars.js';

/** A cluster kept by --limit, with the members the limit left out but the run works on all the same. */
export interface WidenedCluster {
  cluster: string;
  added: string[];
}

/**
 * Cluster tasks work on whole clusters: a cluster is kept when --limit names any of its members, and
 * then all its members take part (a replica cannot be built without its primary, nor sync settings
 * written for half a cluster).
 */
export function clustersInLimit(specs: ClusterSpec[], limited: ReadonlySet<string>): { specs: ClusterSpec[]; widened: WidenedCluster[] } {
  const kept = specs.filter((s) => s.members.some((m) => limited.has(m.host)));
  const widened = kept.map((s) => ({ cluster: s.name, added: s.members.map((m) => m.host).filter((h) => !limited.has(h)) })).filter((w) => w.added.length > 0);
  return { specs: kept, widened };
}

/**
 * The clusters --limit picks, saying out loud (a message line, a JSON event with --json) which hosts
 * outside the limit the run will contact and may change, before it does. No --limit: every cluster.
 */
export async function limitToClusters(run: Run, specs: ClusterSpec[]): Promise<ClusterSpec[]> {
  const limit = run.options.limit;
  if (!limit) return specs;
  const { specs: kept, widened } = clustersInLimit(specs, new Set(await run.hosts()));
  // clustersOf refused an inventory without clusters; here --limit left none: a typo, not a no-op.
  if (kept.length === 0) throw new UserError(`--limit ${limit}: matches no host with pg_cluster`);
  for (const w of widened) {
    run.message(
      `--limit ${limit} widened to the whole cluster ${w.cluster}: ${w.added.join(', ')} ${w.added.length === 1 ? 'is' : 'are'} outside the limit and taken too (a cluster is converged as a whole)`,
    );
  }
  return kept;
}
