import type { Run } from '../engine/run.js';
import { TaskRefused } from '../engine/task.js';
import { pgSession, withTimeout, type PgSession } from '../steps/pg-client.js';
import { ADMIN_USER, clusterCredentials } from './credentials.js';
import type { ClusterSpec } from './vars.js';

export interface PrimarySession {
  /** The inventory host that runs the cluster's primary now. */
  host: string;
  /** SQL as the cluster's admin, over the host's SSH connection (no port opened to the world). */
  session: PgSession;
}

/**
 * Finds the cluster's running primary by asking every present member (in parallel) and opens a SQL
 * session on it — for team tasks that create databases, users, extensions. Refuses when there is
 * not exactly one (a failover in progress is not the moment), and never guesses from the inventory.
 */
export async function openPrimary(run: Run, spec: ClusterSpec): Promise<PrimarySession> {
  const creds = await clusterCredentials(spec.credentialsDir, spec.name, false, run.secrets);
  if (creds.created) throw new TaskRefused(`cluster ${spec.name}: no credentials in ${creds.dir}; run configure-cluster first`);
  const answers = await Promise.all(
    spec.members
      .filter((m) => m.vars.pg_state === 'present')
      .map(async (m): Promise<PrimarySession | string> => {
        let session: PgSession | undefined;
        try {
          session = await withTimeout(
            pgSession(await run.context(m.host), { port: spec.port, user: ADMIN_USER, password: creds.admin, database: 'postgres', timeoutMs: 5000 }),
            5000,
            'connecting',
          );
          const [row] = await session.query<{ r: boolean }>('select pg_is_in_recovery() as r');
          if (row && !row.r) return { host: m.host, session };
          await session.close();
          return `${m.host} is a replica`;
        } catch (err) {
          await session?.close();
          return `${m.host}: ${(err as Error).message}`;
        }
      }),
  );
  const primaries = answers.filter((a): a is PrimarySession => typeof a !== 'string');
  if (primaries.length === 1) return primaries[0]!;
  await Promise.all(primaries.map((p) => p.session.close()));
  const why = primaries.length ? `${primaries.map((p) => p.host).join(' and ')} all take writes` : answers.join('; ');
  throw new TaskRefused(`cluster ${spec.name}: no single running primary (${why})`);
}

/** Runs `fn` with a session on the cluster's primary and closes it afterwards, whatever happens. */
export async function withPrimary<T>(run: Run, spec: ClusterSpec, fn: (p: PrimarySession) => Promise<T>): Promise<T> {
  const p = await openPrimary(run, spec);
  try {
    return await fn(p);
  } finally {
    await p.session.close();
  }
}
