import type { Fact } from '../engine/fact.js';
import { parsePgNode, pgNodeFact, type PgNodeFacts } from '../facts/postgres.js';

/** A member's file-level facts plus the control file's state ('shut down', 'in production', ...). */
export interface StoppedNodeFacts extends PgNodeFacts {
  /**
   * pg_controldata's "Database cluster state" of a stopped node: 'shut down' is a primary that
   * stopped cleanly ('shut down in recovery' a standby), which with standby.signal is the old
   * primary of a switchover that has not finished.
   */
  controlState?: string;
}

/** configure-cluster's node fact, read for members whose PostgreSQL did not answer info-list's query. */
export function statusNodeFact(opts: { cluster: string; version?: number; port: number }): Fact<StoppedNodeFacts> {
  const base = pgNodeFact(opts);
  return {
    ...base,
    name: `status-node:${opts.cluster}`,
    parse: (output) => ({ ...parsePgNode(output, opts.cluster, opts.port), controlState: /^ctlstate=(.*)$/m.exec(output)?.[1]?.trim() }),
  };
}
