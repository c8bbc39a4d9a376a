import type { ClusterContext } from '../src/cluster/cluster-context.js';
import { clusterCredentials } from '../src/cluster/credentials.js';
import { withClusterLock } from '../src/cluster/lock.js';
import { clustersOf } from '../src/cluster/vars.js';
import { UserError } from '../src/errors.js';
import type { HostContext } from '../src/engine/host-context.js';
import type { Run } from '../src/engine/run.js';
import { runSteps } from '../src/engine/step.js';
import { filesStep } from '../src/steps/files.js';
import { notifying } from './config.js';
import { planFromHosts } from './cluster.js';
import { pgbouncerFiles, pgbouncerServiceStep, readUserlist, PGBOUNCER_USERLIST } from './pgbouncer.js';

/*
 * What the imperative user and database tasks share: the cluster's primary found from the facts,
 * under the cluster lock, and PgBouncer's userlists brought in step once a role changed.
 */

/** The one cluster a task works on: --cluster, or the inventory's only one. */
export async function oneCluster(run: Run, task: string, cluster: string | undefined) {
  const specs = clustersOf(await run.inventory(), cluster);
  if (specs.length !== 1) throw new UserError(`${task}: say which cluster with --cluster (${specs.map((s) => s.name).join(', ')})`);
  return specs[0]!;
}

/**
 * Runs `fn` on the cluster's running primary, as the facts show it, holding the cluster lock. Refuses,
 * changing nothing, when there is none (a cluster not built yet, or one configure-cluster must repair).
 */
export async function onClusterPrimary(
  run: Run,
  task: string,
  cluster: string | undefined,
  fn: (cc: ClusterContext, primary: HostContext) => Promise<void>,
): Promise<void> {
  const spec = await oneCluster(run, task, cluster);
  await withClusterLock(run, spec, task, async () => {
    const planned = await planFromHosts(run, spec);
    if (!planned) return;
    const { plan, cc } = planned;
    const facts = cc.facts.get(plan.primary.host);
    if (plan.primaryAction !== 'keep' || !facts?.running) {
      run.refuse(
        `${task}: cluster ${spec.name} has no running primary (${plan.primaryAction === 'keep' ? `${plan.primary.host} is stopped` : 'not built yet'}); run configure-cluster first; nothing was changed`,
      );
      return;
    }
    const creds = await clusterCredentials(spec.credentialsDir, spec.name, false, run.secrets);
    if (creds.created) {
      run.refuse(`${task}: cluster ${spec.name}: no credentials in ${creds.dir}; nothing was changed`);
      return;
    }
    await fn({ ...cc, creds }, await run.context(plan.primary.host));
  });
}

/**
 * Every running PgBouncer of the cluster gets the primary's login roles as they are now (its userlist
 * rewritten and reloaded when it differs), so a role made, changed or dropped takes effect through
 * PgBouncer at once.
 */
export async function syncUserlists(run: Run, cc: ClusterContext): Promise<void> {
  const hosts = cc.spec.members.filter((m) => m.vars.pg_pgbouncer && m.vars.pg_state === 'present' && cc.bouncers.has(m.host)).map((m) => m.host);
  if (!hosts.length) return;
  const roles = await readUserlist(cc, await run.context(cc.plan.primary.host), cc.spec.port);
  await run.onHosts(hosts, async (ctx) => {
    const userlist = () => pgbouncerFiles(cc.spec, ctx.host, cc.plan.primary.address, roles, cc.templates).filter((f) => f.path === PGBOUNCER_USERLIST);
    await runSteps(ctx, [notifying(filesStep('pgbouncer: userlist', userlist), 'pgbouncer-reload'), pgbouncerServiceStep(cc, ctx.host)]);
  });
}
