import type { ClusterContext } from './cluster-context.js';
import type { SettingChange } from './restart-order.js';

/**
 * The restarts a configure-cluster run has collected, per cluster and host, for its ordered restart
 * phase (roles/restart.ts): noted by the service step after a reload (names only: the restart phase
 * reads the values), or predicted by the config step in check mode (with values, nothing is written).
 */
const noted = new WeakMap<ClusterContext, Map<string, { names: string[]; predicted: SettingChange[] }>>();

export function notePendingRestart(cc: ClusterContext, host: string, pending: { names?: string[]; predicted?: SettingChange[] }): void {
  let byHost = noted.get(cc);
  if (!byHost) noted.set(cc, (byHost = new Map()));
  const entry = byHost.get(host) ?? { names: [], predicted: [] };
  entry.names = [...new Set([...entry.names, ...(pending.names ?? []), ...(pending.predicted ?? []).map((c) => c.name)])];
  entry.predicted = [...entry.predicted, ...(pending.predicted ?? [])];
  byHost.set(host, entry);
}

export function pendingRestarts(cc: ClusterContext): Map<string, { names: string[]; predicted: SettingChange[] }> {
  return noted.get(cc) ?? new Map();
}
