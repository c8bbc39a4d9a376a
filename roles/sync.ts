import { freshFacts, type ClusterContext } from '../src/cluster/cluster-context.js';
import type { HostContext } from '../src/engine/host-context.js';
import type { Step } from '../src/engine/step.js';
import { confDir } from '../src/facts/postgres.js';
import { filesStep } from '../src/steps/files.js';
import { psql } from '../src/steps/postgres.js';
import { slotName } from '../src/cluster/vars.js';
import { notifying } from './config.js';
import { serviceRole } from './service.js';

/** The synchronous_standby_names value for these application names. */
export function syncSetting(names: string[], count: number): string {
  return names.length === 0 || count === 0 ? '' : `FIRST ${Math.min(count, names.length)} (${names.map((n) => `"${n}"`).join(', ')})`;
}

/** Waits (bounded) until the candidates stream, and returns those that do, in candidate order. */
async function streaming(ctx: HostContext, port: number, candidates: string[], timeoutMs = 60_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await psql(ctx, port, `select application_name from pg_stat_replication where state = 'streaming'`);
    const live = new Set(rows.map((r) => r[0]));
    const ok = candidates.filter((c) => live.has(c));
    if (ok.length === candidates.length || Date.now() > deadline) return ok;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * synchronous_standby_names on the primary: the first pg_sync_replicas replicas in inventory order,
 * among those streaming. Written last, once replicas stream, so building a cluster never waits on a
 * replica that does not exist yet; a replica that is down is left out (Patroni's non-strict mode).
 */
export function syncRole(cc: ClusterContext, host: string): Step[] {
  const file = `${confDir(cc.version, cc.spec.name)}/sync.conf`;
  const isPrimary = cc.plan.primary.host === host;
  const content = async (ctx: HostContext): Promise<string> => {
    if (!isPrimary || cc.spec.syncReplicas === 0) return '# Managed by pgtasks: no synchronous replicas here.\n';
    const candidates = cc.plan.syncCandidates.length ? cc.plan.replicas.map((r) => slotName(r.member.host)) : [];
    // A replica built in this run needs a moment to connect; one that is simply down is not waited for long.
    const wait = cc.plan.replicas.some((r) => r.action === 'clone') ? 60_000 : 5_000;
    const known = freshFacts(cc, host)?.streaming ?? [];
    const allKnown = candidates.every((c) => known.includes(c)) && !cc.plan.replicas.some((r) => cc.touched.has(r.member.host));
    const live = ctx.check || allKnown ? candidates : await streaming(ctx, cc.spec.port, candidates, wait);
    const value = syncSetting(live.slice(0, cc.spec.syncReplicas), cc.spec.syncReplicas);
    return `# Managed by pgtasks: pg_sync_replicas = ${cc.spec.syncReplicas}.\nsynchronous_standby_names = '${value.replace(/'/g, "''")}'\n`;
  };
  const files = filesStep('sync', async (ctx) => [{ path: file, owner: 'postgres', group: 'postgres', mode: '0644', content: await content(ctx) }]);
  return [notifying(files, 'postgresql-reload'), ...serviceRole(cc, host)];
}
