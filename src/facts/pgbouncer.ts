import type { HostContext } from '../engine/host-context.js';
import { pgSession, withTimeout } from '../steps/pg-client.js';

/** Present while pgtasks holds a PgBouncer PAUSEd: a run killed in between leaves it, and the next run RESUMEs. */
export const PAUSED_MARKER = '/var/run/postgresql/pgbouncer.pgtasks-paused';

/** What a running PgBouncer does now (its admin console), as opposed to what its ini file says. */
export interface BouncerFacts {
  /** The host the cluster's databases are routed to now (SHOW DATABASES, the explicit `postgres` entry). */
  host?: string;
  /** PAUSEd (a switchover in progress, or one that died half-way): clients wait. */
  paused: boolean;
}

/**
 * Reads PgBouncer's running state; undefined when nothing listens on its port. A PgBouncer that
 * runs but does not answer is an error, never "not paused".
 */
export async function readBouncer(ctx: HostContext, port: number, user: string, password: string, timeoutMs = 3000): Promise<BouncerFacts | undefined> {
  let session;
  try {
    session = await withTimeout(pgSession(ctx, { port, user, password, database: 'pgbouncer', timeoutMs }), timeoutMs, `connecting to PgBouncer on port ${port}`);
  } catch (err) {
    if (/ECONNREFUSED|Connection refused|open failure|connect failed/i.test((err as Error).message)) return undefined;
    throw err;
  }
  try {
    const dbs = await withTimeout(session.query<{ name: string; host: string | null; paused: string | number }>('SHOW DATABASES'), timeoutMs, 'SHOW DATABASES');
    // SHOW STATE exists from PgBouncer 1.21; older ones say a global PAUSE nowhere, hence the marker
    // file pgtasks keeps beside the pid file while it pauses (PAUSED_MARKER, read by the shell facts).
    const state = await withTimeout(session.query<{ key: string; value: string }>('SHOW STATE'), timeoutMs, 'SHOW STATE').catch((err: Error) => {
      if (/invalid command/i.test(err.message)) return [];
      throw err;
    });
    const routed = dbs.find((d) => d.name === 'postgres') ?? dbs.find((d) => d.name !== 'pgbouncer' && d.host);
    const paused = state.some((r) => r.key === 'paused' && r.value === 'yes') || dbs.some((d) => d.name !== 'pgbouncer' && String(d.paused) === '1');
    return { host: routed?.host ?? undefined, paused };
  } finally {
    await session.close();
  }
}
