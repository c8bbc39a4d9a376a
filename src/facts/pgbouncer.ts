import type { HostContext } from '../engine/host-context.js';
import { pgSession, withTimeout, type PgSession } from '../steps/pg-client.js';

/** Present while pgtasks holds a PgBouncer PAUSEd: a run killed in between leaves it, and the next run RESUMEs. */
export const PAUSED_MARKER = '/var/run/postgresql/pgbouncer.pgtasks-paused';

/** What a running PgBouncer does now (its admin console), as opposed to what its ini file says. */
export interface BouncerFacts {
  /** The host the cluster's databases are routed to now (SHOW DATABASES, the explicit `postgres` entry). */
  host?: string;
  /** PAUSEd (a switchover in progress, or one that died half-way): clients wait. */
  paused: boolean;
  /** It runs but its admin console did not answer (why): route and pause state are not known. */
  unknown?: string;
}

/**
 * Reads PgBouncer's running state; undefined when nothing listens on its port. A PgBouncer that
 * runs but does not answer is an error, never "not paused".
 */
export async function readBouncer(ctx: HostContext, port: number, user: string, password: string, timeoutMs = 3000): Promise<BouncerFacts | undefined> {
  let session;
  try {
    session = await withTimeout(
      pgSession(ctx, { port, user, password, database: 'pgbouncer', timeoutMs }),
      timeoutMs,
      `connecting to PgBouncer on port ${port}`,
    );
  } catch (err) {
    if (/ECONNREFUSED|Connection refused|open failure|connect failed/i.test((err as Error).message)) return undefined;
    throw err;
  }
  try {
    const dbs = await withTimeout(session.query<{ name: string; host: string | null; paused: string | number }>('SHOW DATABASES'), timeoutMs, 'SHOW DATABASES');
    // Besides asking PgBouncer, pgtasks keeps a marker beside the pid file while it pauses
    // (PAUSED_MARKER, read by the shell facts): a killed run leaves it, and the next run resumes.
    const routed = dbs.find((d) => d.name === 'postgres') ?? dbs.find((d) => d.name !== 'pgbouncer' && d.host);
    const paused = (await globallyPaused(session, timeoutMs)) || dbs.some((d) => d.name !== 'pgbouncer' && String(d.paused) === '1');
    return { host: routed?.host ?? undefined, paused };
  } finally {
    await session.close();
  }
}

/**
 * A PAUSE of the whole PgBouncer: SHOW STATE since 1.19. Before that (Debian 12 ships 1.18) nothing
 * shows it, but `PAUSE pgbouncer` asks without changing anything: PgBouncer answers "already
 * suspended/paused" when paused, else "cannot pause admin db" (checked in that order in 1.12-1.18).
 */
async function globallyPaused(session: PgSession, timeoutMs: number): Promise<boolean> {
  try {
    const state = await withTimeout(session.query<{ key: string; value: string }>('SHOW STATE'), timeoutMs, 'SHOW STATE');
    return state.some((r) => r.key === 'paused' && r.value === 'yes');
  } catch (err) {
    if (!/invalid command/i.test((err as Error).message)) throw err;
  }
  try {
    await withTimeout(session.query('PAUSE pgbouncer'), timeoutMs, 'PAUSE pgbouncer (a question on PgBouncer < 1.19)');
  } catch (err) {
    if (/already suspended\/paused/.test((err as Error).message)) return true;
    if (/cannot pause admin db/.test((err as Error).message)) return false;
    throw err;
  }
  throw new Error('PgBouncer accepted "PAUSE pgbouncer": cannot tell whether it is paused');
}
