import type { BouncerFacts } from '../facts/pgbouncer.js';
import type { PgNodeFacts } from '../facts/postgres.js';
import type { ChangedSince } from '../engine/changes.js';
import type { Templates } from '../engine/templates.js';
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
  /** Per host with a running PgBouncer: where it routes now and whether it is paused. */
  bouncers: Map<string, BouncerFacts>;
  /** Hosts this run has changed since the facts were read (the engine records it): their facts no longer describe them. */
  touched: ChangedSince;
  /** The run's template environment (templates/*.j2). */
  templates: Templates;
}

/**
 * The facts read at the start of the run, while they still hold (a running server this run has
 * not changed): steps use them instead of asking PostgreSQL again, so a no-op run stays one round trip.
 */
export function freshFacts(cc: ClusterContext, host: string): PgNodeFacts | undefined {
  const f = cc.facts.get(host);
  return f && f.running && !cc.touched.has(host) ? f : undefined;
}

export function memberOf(cc: ClusterContext, host: string): Member {
  const m = cc.spec.members.find((x) => x.host === host);
  if (!m) throw new Error(`${host} is not a member of cluster ${cc.spec.name}`);
  return m;
}

export function isReplica(cc: ClusterContext, host: string): boolean {
  return cc.plan.primary.host !== host && cc.plan.replicas.some((r) => r.member.host === host);
}
