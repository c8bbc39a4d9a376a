import { ADMIN_USER, clusterCredentials } from '../cluster/credentials.js';
import type { ClusterSpec } from '../cluster/vars.js';
import { sh } from '../connection/shell.js';
import type { HostContext } from '../engine/host-context.js';
import { reads } from '../engine/host-view.js';
import type { Run } from '../engine/run.js';
import { pgSession, withTimeout } from '../steps/pg-client.js';
import { ARCHIVER_JSON_SQL, type ArchiverStats } from './health.js';
import { parseInfoJson, type StanzaSummary } from './pgbackrest-info.js';

/*
 * What backup-list, info-list and restore-cluster read: the stanza from the repository host, and the
 * archiver's state from the primary. One round trip each.
 */

/** `pgbackrest info` for one stanza, on the repository host as postgres. Always with --stanza (its cipher pass is per stanza). */
export const infoCommand = (stanza: string) => reads(sh`pgbackrest ${`--stanza=${stanza}`} --output=json info`);

export async function readStanzaOn(ctx: HostContext, stanza: string): Promise<StanzaSummary> {
  const r = await ctx.view.read(infoCommand(stanza), { user: 'postgres', allowFailure: true, timeoutMs: 60_000 });
  if (r.code !== 0) {
    const why = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-2).join(' / ');
    throw new Error(r.code === 127 ? 'pgbackrest is not installed there (run configure-cluster)' : `pgbackrest info failed (exit ${r.code}): ${why}`);
  }
  const found = parseInfoJson(r.stdout).find((s) => s.name === stanza);
  if (!found) throw new Error(`pgbackrest info did not list stanza ${stanza}`);
  return found;
}

export interface StanzaRead {
  stanza?: StanzaSummary;
  /** Why it could not be read: the repository host unreachable, pgBackRest missing or failing. */
  error?: string;
  unreachable?: boolean;
}

/** The cluster's stanza from its repository host; errors come back as text (the caller decides whether they refuse). */
export async function readStanza(run: Run, spec: ClusterSpec): Promise<StanzaRead> {
  if (!spec.backup) return { error: `cluster ${spec.name} has no pg_backup` };
  const host = spec.backup.repo_host;
  let ctx: HostContext;
  try {
    ctx = await run.context(host);
  } catch (err) {
    return { error: `${host} unreachable: ${(err as Error).message.split('\n')[0]}`, unreachable: true };
  }
  try {
    return { stanza: await readStanzaOn(ctx, spec.name) };
  } catch (err) {
    if ((err as Error).name === 'UnreachableError') return { error: `${host} unreachable: ${(err as Error).message.split('\n')[0]}`, unreachable: true };
    return { error: (err as Error).message.split('\n')[0] };
  }
}

/** pg_stat_archiver and whether it is the primary, on one member (as the cluster's admin, over SSH). */
export async function readArchiverOn(ctx: HostContext, port: number, password: string): Promise<{ primary: boolean; archiver: ArchiverStats }> {
  const session = await withTimeout(
    pgSession(ctx, { port, user: ADMIN_USER, password, database: 'postgres', timeoutMs: 3000 }),
    3000,
    'connecting to PostgreSQL',
  );
  try {
    const rows = await withTimeout(
      session.query<{ primary: boolean; archiver: ArchiverStats }>(`select not pg_is_in_recovery() as primary, ${ARCHIVER_JSON_SQL} as archiver`),
      3000,
      'the archiver query',
    );
    return rows[0]!;
  } finally {
    await session.close();
  }
}

/** The primary's archiver state: every present member is asked at once, the one not in recovery answers. */
export async function readArchiver(run: Run, spec: ClusterSpec): Promise<{ host?: string; archiver?: ArchiverStats; error?: string }> {
  const creds = await clusterCredentials(spec.credentialsDir, spec.name, false, run.secrets);
  if (creds.created) return { error: `no credentials in ${creds.dir}` };
  const found: { host: string; archiver: ArchiverStats }[] = [];
  await run.onHosts(
    spec.members.filter((m) => m.vars.pg_state === 'present').map((m) => m.host),
    async (ctx) => {
      try {
        const r = await readArchiverOn(ctx, spec.port, creds.admin);
        if (r.primary) found.push({ host: ctx.host, archiver: r.archiver });
      } catch {
        // Not running, or unreachable: another member is the primary, or none answers (said below).
      }
    },
  );
  if (found.length === 1) return found[0]!;
  return { error: found.length ? `several primaries answer (${found.map((f) => f.host).join(', ')})` : 'no running primary answered' };
}
