import type pg from 'pg';
import { socketLike } from '../connection/pg-stream.js';
import type { HostContext } from '../engine/host-context.js';
import { warmUpLater } from '../engine/warm-up.js';

const loadPg = () => import('pg');
warmUpLater(loadPg);

export interface PgSession {
  query<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  close(): Promise<void>;
}

/**
 * A node-postgres session to a port on the host's loopback (PostgreSQL, or PgBouncer's admin console),
 * carried by the host's SSH connection. Simple-protocol queries only, which the admin console needs.
 */
export async function pgSession(
  ctx: HostContext,
  opts: { port: number; user: string; password: string; database: string; timeoutMs?: number },
): Promise<PgSession> {
  const { default: pgModule } = await loadPg();
  const channel = await ctx.forward('127.0.0.1', opts.port);
  const client: pg.Client = new pgModule.Client({
    stream: () => socketLike(channel) as never,
    host: '127.0.0.1',
    port: opts.port,
    user: opts.user,
    password: opts.password,
    database: opts.database,
    connectionTimeoutMillis: opts.timeoutMs ?? 5000,
    application_name: 'pgtasks',
  });
  client.on('error', () => {
    /* a dropped session fails the query that uses it */
  });
  await client.connect();
  return {
    query: async <T>(sql: string) => (await client.query(sql)).rows as T[],
    close: () => client.end().catch(() => {}),
  };
}

/** Rejects after `ms` with `what` in the message; the operation itself is left to its own fate. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    }),
  ]);
}
