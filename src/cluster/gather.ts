import { sh } from '../connection/shell.js';
import { reads, type ReadCommand } from '../engine/host-view.js';
import { dirStatesFact } from '../steps/files.js';
import { batchScript, splitBatchOutput } from '../engine/fact.js';
import type { HostContext } from '../engine/host-context.js';
import type { Run } from '../engine/run.js';
import { parsePgNode, PG_NODE_QUERY, pgNodeFact, type PgNodeFacts } from '../facts/postgres.js';
import { readBouncer, type BouncerFacts } from '../facts/pgbouncer.js';
import { systemFact } from '../facts/system.js';
import { TaskRefused } from '../engine/task.js';
import { pgSession, withTimeout } from '../steps/pg-client.js';
import { ADMIN_USER, clusterCredentials } from './credentials.js';
import { settleInterruptedRotations } from './rotation.js';
import type { MemberFacts } from './plan.js';
import type { ClusterSpec } from './vars.js';

export interface GatheredCluster {
  members: MemberFacts[];
  systemd: Map<string, boolean>;
  /** PgBouncer's running state per member that has one running (absent: none listens). */
  bouncers: Map<string, BouncerFacts>;
}

/** The live facts through `pg` over the SSH connection: no psql process, and it overlaps the shell facts. */
async function liveLines(ctx: HostContext, port: number, password: string): Promise<string | undefined> {
  try {
    const session = await withTimeout(pgSession(ctx, { port, user: ADMIN_USER, password, database: 'postgres', timeoutMs: 3000 }), 3000, 'connecting');
    try {
      const rows = await withTimeout(session.query<Record<string, string>>(PG_NODE_QUERY), 3000, 'the facts query');
      return rows.map((r) => Object.values(r)[0]).join('\n');
    } finally {
      await session.close();
    }
  } catch {
    return undefined; // not running, or not (yet) our admin role: the shell facts fall back to psql
  }
}

/** The file-level facts of a member, in one command: the system, the cluster's files, and the folders the roles' file steps look at. */
function shellFacts(spec: ClusterSpec, viaPg: boolean) {
  const fileFact = pgNodeFact({ cluster: spec.name, version: spec.version, port: spec.port, live: !viaPg });
  // The folders the roles' file steps look at, read in the same round trip: a no-op run needs no other.
  const dirsFact = dirStatesFact(sh`/etc/postgresql/*/${spec.name} /etc/pgbouncer /etc/pgbackrest`);
  return { fileFact, dirsFact, command: reads(batchScript([systemFact, fileFact, dirsFact])) };
}

/**
 * The command gatherCluster() starts with on every member, for withClusterLock's `thenRead`: the
 * files' facts then come back with the lock, in its round trip; the live state follows through `pg`.
 * (Tried: psql in that read instead of the `pg` session after it, no-op on 3 lab hosts: 708 ms
 * against 653 ms, medians of 11.)
 */
export async function clusterFactsRead(run: Run, spec: ClusterSpec): Promise<ReadCommand> {
  const creds = await clusterCredentials(spec.credentialsDir, spec.name, false, run.secrets);
  return shellFacts(spec, !creds.created).command;
}

/**
 * Reads every member's system and PostgreSQL facts afresh (a task may plan again after changing
 * the cluster), all hosts in parallel. Per host, the file-level facts (one shell round trip) and the
 * live state (one query through `pg`) are read at the same time; psql is the fallback.
 */
export async function gatherCluster(run: Run, spec: ClusterSpec): Promise<GatheredCluster> {
  const creds = await clusterCredentials(spec.credentialsDir, spec.name, false, run.secrets);
  const viaPg = !creds.created;
  const found = new Map<string, PgNodeFacts>();
  const systemd = new Map<string, boolean>();
  const bouncers = new Map<string, BouncerFacts>();
  const failures = new Map<string, string>();
  const outcome = await run.onHosts(
    spec.members.map((m) => m.host),
    async (ctx) => {
      const vars = spec.members.find((m) => m.host === ctx.host)!.vars;
      const { fileFact, dirsFact, command } = shellFacts(spec, viaPg);
      const [shell, live, bouncer] = await Promise.all([
        ctx.read(command, { allowFailure: true }),
        viaPg ? liveLines(ctx, spec.port, creds.admin) : undefined,
        // What PgBouncer routes to now and whether it is paused: a killed switchover leaves it so.
        vars.pg_pgbouncer && !creds.created ? readBouncer(ctx, vars.pg_pgbouncer_port, ADMIN_USER, creds.admin).catch((err: Error) => err) : undefined,
      ]);
      // A PgBouncer that runs but does not answer (a stale userlist, say) is not a reason to stop: its
      // route and pause state are unknown, so the run reloads and resumes it by signal, which is safe.
      if (bouncer instanceof Error)
        run.message(`[${ctx.host}] PgBouncer runs but its state cannot be read (${bouncer.message}): it will be reloaded and resumed`);
      if (bouncer) bouncers.set(ctx.host, bouncer instanceof Error ? { paused: true, unknown: bouncer.message } : bouncer);
      const sections = splitBatchOutput(shell.stdout);
      const system = systemFact.parse(sections.get(systemFact.name) ?? '');
      const running = bouncers.get(ctx.host);
      if (running && system.pgbouncerPausedMarker) running.paused = true;
      let f = parsePgNode(`${sections.get(fileFact.name) ?? ''}\n${live ?? ''}`, spec.name, spec.port);
      if (viaPg && live === undefined && f.running) {
        const withPsql = pgNodeFact({ cluster: spec.name, version: spec.version, port: spec.port });
        f = withPsql.parse(splitBatchOutput((await ctx.read(reads(batchScript([withPsql])), { allowFailure: true })).stdout).get(withPsql.name) ?? '');
      }
      ctx.facts.set(systemFact.name, system);
      ctx.facts.set(fileFact.name, f);
      const dirs = sections.get(dirsFact.name);
      if (dirs !== undefined) ctx.facts.set(dirsFact.name, dirsFact.parse(dirs));
      found.set(ctx.host, f);
      systemd.set(ctx.host, system.systemd);
      run.emit({ type: 'step', host: ctx.host, step: 'facts', status: f.unreadable ? 'failed' : 'ok', message: describeNode(f), check: run.options.check });
    },
  );
  for (const h of [...outcome.unreachable, ...outcome.failed]) failures.set(h, outcome.unreachable.includes(h) ? 'unreachable' : 'facts failed');
  const holders = [...found].filter(([, f]) => f.systemIdentifier).map(([h]) => h);
  if (creds.created && holders.length) {
    // New passwords would lock everyone out of a live cluster (or silently replace theirs): never guess.
    throw new TaskRefused(
      `cluster ${spec.name} exists (${holders.join(', ')} hold${holders.length === 1 ? 's' : ''} its data) but its credentials are not in ${creds.dir} (admin.password, replicator.password); ` +
        `pg_credentials_dir is resolved against the inventory's folder: point it at the folder where they were created; nothing was changed`,
    );
  }
  // A rotation killed between its steps left <file>.next: settled from what the primary holds, before anyone reads the credentials.
  await settleInterruptedRotations(run, spec, found.values());
  return {
    members: spec.members.map((member) => ({ member, facts: found.get(member.host), unreachable: failures.get(member.host) })),
    systemd,
    bouncers,
  };
}

export function describeNode(f: PgNodeFacts): string {
  const parts = [`${f.version}/${f.cluster}`, f.state];
  if (f.state === 'REPLICA' && f.upstream) parts.push(`of ${f.upstream}`);
  if (f.state === 'PRIMARY' || f.state === 'REPLICA') parts.push(f.running ? 'running' : 'stopped', `timeline ${f.timeline ?? '?'}`, `lsn ${f.lsn ?? '?'}`);
  if (f.confStale) parts.push('config not loaded yet');
  if (f.pendingRestart.length) parts.push(`pending restart: ${f.pendingRestart.join(', ')}`);
  if (f.detail) parts.push(`(${f.detail})`);
  return parts.join(' ');
}
