import type { PgNodeFacts } from '../facts/postgres.js';
import type { Credentials } from './credentials.js';
import type { ClusterPlan } from './plan.js';
import type { ClusterSpec, Member } from './vars.js';

/** What every role of one configure-cluster run shares about its cluster. */
export interface ClusterContext {
  spec: ClusterSpec;
  plan: ClusterPlan;
  version: number;
  creds: Credentials;
  /** Facts read at the start of the run, per host. */
  facts: Map<string, PgNodeFacts>;
  /** Per host: reached through systemd or not (decides how services are driven). */
  systemd: Map<string, boolean>;
}

export function memberOf(cc: ClusterContext, host: string): Member {
  const m = cc.spec.members.find((x) => x.host === host);
  if (!m) throw new Error(`${host} is not a member of cluster ${cc.spec.name}`);
  return m;
}

export function isReplica(cc: ClusterContext, host: string): boolean {
  return cc.plan.primary.host !== host && cc.plan.replicas.some((r) => r.member.host === host);
}
