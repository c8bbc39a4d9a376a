import type { ClusterContext } from '../src/cluster/cluster-context.js';
import type { Step } from '../src/engine/step.js';
import { confDir } from '../src/facts/postgres.js';
import { filesStep, type FileSpec } from '../src/steps/files.js';
import { notifying } from './config.js';
import { serviceRole } from './service.js';

import { syncSetting } from '../src/cluster/sync-setting.js';

export { syncSetting };

/** sync.conf for a member: the setting on the primary, empty elsewhere (a standby ignores it, and it is rewritten at promotion). */
export function syncFile(version: number, cluster: string, value: string, count: number): FileSpec {
  const content = value
    ? `# Managed by pgtasks: pg_sync_replicas = ${count}.\nsynchronous_standby_names = '${value.replace(/'/g, "''")}'\n`
    : `# Managed by pgtasks: no synchronous replicas here.\nsynchronous_standby_names = ''\n`;
  return { path: `${confDir(version, cluster)}/sync.conf`, owner: 'postgres', group: 'postgres', mode: '0644', content };
}

/** synchronous_standby_names on the primary (every replica a candidate), applied with a reload. */
export function syncRole(cc: ClusterContext, host: string): Step[] {
  const value = cc.plan.primary.host === host ? syncSetting(cc.plan.syncCandidates, cc.spec.syncReplicas) : '';
  const files = filesStep('sync', async () => [syncFile(cc.version, cc.spec.name, value, cc.spec.syncReplicas)]);
  return [notifying(files, 'postgresql-reload'), ...serviceRole(cc, host)];
}
