import type { ClusterContext } from '../src/cluster/cluster-context.js';
import type { Run } from '../src/engine/run.js';

/** Points pg_service_name at the primary (providers: dns, hosts, command). */
export async function registerRole(run: Run, cc: ClusterContext): Promise<void> {
  if (!cc.spec.serviceName || !cc.spec.registry || cc.spec.registry.provider === 'none') return;
  run.message(`cluster ${cc.spec.name}: registry provider ${cc.spec.registry.provider} not implemented yet`);
}
