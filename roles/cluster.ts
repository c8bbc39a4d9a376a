import { clusterCredentials, ADMIN_USER } from '../src/cluster/credentials.js';
import { memberOf, type ClusterContext } from '../src/cluster/cluster-context.js';
import { primaryAddressLines, tlsConnParams, tlsConnText } from '../src/cluster/connect-lines.js';
import { gatherCluster } from '../src/cluster/gather.js';
import { planCluster, PlanRefused, type ClusterPlan } from '../src/cluster/plan.js';
import type { ClusterSpec } from '../src/cluster/vars.js';
import type { Run } from '../src/engine/run.js';
import { runSteps } from '../src/engine/step.js';
import type { PgNodeFacts } from '../src/facts/postgres.js';
import { backupMaterialExists } from '../src/backup/certs.js';
import { startBackupPhase } from './backup.js';
import { configRole } from './config.js';
import { deactivateRole } from './deactivate.js';
import { installRole } from './install.js';
import { pgbouncerRole, readUserlist } from './pgbouncer.js';
import { primaryRole, slotsStep } from './primary.js';
import { registerRole } from './register.js';
import { cloneStep, staleSlotsStep } from './replica.js';
import { replicaSource } from './replica-from-backup.js';
import { restartPending } from './restart.js';
import { serviceRole } from './service.js';
import { convergeUsers } from './users.js';
import { syncRole, syncSetting } from './sync.js';

/** Reads the cluster's state and plans from it; undefined (and a refusal reported) when it must not run. */
export interface ConvergeOptions {
  /** Members left out of this run (a fenced or lost old primary during failover); pg_hba still lists them. */
  exclude?: string[];
}

export async function planFromHosts(
  run: Run,
  spec: ClusterSpec,
  opts: ConvergeOptions = {},
): Promise<{ cc: Omit<ClusterContext, 'creds'>; plan: ClusterPlan } | undefined> {
  const working = { ...spec, members: spec.members.filter((m) => !opts.exclude?.includes(m.host)) };
  const factsMark = run.changes.mark();
  const gathered = await gatherCluster(run, working);
  const facts = new Map(gathered.members.filter((m) => m.facts).map((m) => [m.member.host, m.facts!] as [string, PgNodeFacts]));
  let plan: ClusterPlan;
  try {
    const versions = new Set([...facts.values()].map((f) => f.version));
    if (versions.size > 1) throw new PlanRefused(spec.name, `members default to different PostgreSQL majors (${[...versions].join(', ')}); set pg_version`);
    plan = planCluster(working, gathered.members);
  } catch (err) {
    if (err instanceof PlanRefused) {
      run.refuse(err.message);
      return undefined;
    }
    throw err;
  }
  const version = [...facts.values()][0]!.version;
  const touched = run.changes.since(factsMark);
  return { cc: { spec, plan, version, facts, systemd: gathered.systemd, bouncers: gathered.bouncers, templates: run.templates, touched }, plan };
}

/**
 * configure-cluster for one cluster: facts, plan, then roles in dependency order with hosts in
 * parallel wherever the order allows (replicas install and write config while the primary is built).
 */
export async function configureCluster(run: Run, spec: ClusterSpec, opts: ConvergeOptions = {}): Promise<void> {
  // pg_backup: the repository host is reached beside the facts; unreachable, nothing changes (archiving into nothing fills pg_wal).
  const repo = spec.backup && run.context(spec.backup.repo_host);
  const planned = await planFromHosts(run, spec, opts);
  if (!planned) return;
  let withBackup = spec.backup !== undefined;
  if (repo) {
    try {
      await repo;
    } catch (err) {
      const why = `the backup repository host ${spec.backup!.repo_host} is unreachable (${(err as Error).message})`;
      // Backups never set up: refuse, changing nothing. Set up before (a failover, a switchover's converge):
      // PostgreSQL comes first; only pgBackRest's part waits for the host.
      if (!(await backupMaterialExists(spec.credentialsDir, spec.name))) {
        run.refuse(`cluster ${spec.name}: ${why}; nothing was changed`);
        return;
      }
      run.message(`cluster ${spec.name}: ${why}: pgBackRest is left as it is this run; WAL archiving fails (and WAL stays in pg_wal) until it is back`);
      withBackup = false;
    }
  }
  const { plan } = planned;
  for (const note of plan.notes) run.message(`cluster ${spec.name}: ${note}`);
  const creds = await clusterCredentials(spec.credentialsDir, spec.name, !run.options.check, run.secrets);
  const cc: ClusterContext = { ...planned.cc, creds };
  const primary = plan.primary.host;

  // Replicas wait for the primary below: make sure its connection is there before anyone waits.
  try {
    await run.context(primary);
  } catch (err) {
    run.refuse(`cluster ${spec.name}: lost the connection to ${primary}: ${(err as Error).message}`);
    return;
  }
  let primaryReady!: (ok: boolean) => void;
  const primaryDone = new Promise<boolean>((r) => (primaryReady = r));
  for (const r of plan.replicas.filter((x) => x.action === 'diverged')) {
    run.emit({
      type: 'step',
      host: r.member.host,
      step: 'follow',
      status: 'failed',
      check: run.options.check,
      message: `cannot follow ${primary}: ${r.reason}; run 'pgtasks rejoin --host ${r.member.host}' (pg_rewind; --full re-clones, keeping its data directory renamed)`,
    });
  }
  const present = [primary, ...plan.replicas.filter((r) => r.action !== 'diverged').map((r) => r.member.host)];
  // PgBouncer converges as soon as the primary is ready, alongside replica builds: clients left
  // paused or routed to a former primary by a killed run are released first.
  // A host's packages go in one apt run at a time: its PgBouncer waits for its install role.
  const installed = new Map(present.map((h) => [h, deferred<boolean>()]));
  const withPgbouncer = present.some((h) => memberOf(cc, h).vars.pg_pgbouncer);
  const bouncersDone = primaryDone.then(async (ready) => {
    if (!ready) return;
    // pg_users and pg_databases (roles/users.ts) before the userlist is read: a user made now logs in through PgBouncer at once.
    const seen = await convergeUsers(run, cc);
    if (!withPgbouncer) return;
    const roles = seen(run.options.check && plan.primaryAction === 'bootstrap' ? [] : await readUserlist(cc, await run.context(primary), spec.port));
    await run.onHosts(present, async (ctx) => {
      if (await installed.get(ctx.host)!.promise)
        await runSteps(
          ctx,
          pgbouncerRole(cc, ctx.host, () => roles),
        );
    });
  });
  // pg_backup: pgBackRest on the repository host and the members beside the builds; the stanza before any clone.
  const backup = withBackup ? startBackupPhase(run, cc, present, (h) => installed.get(h)!.promise, primaryDone) : undefined;
  const built = await run.onHosts(present, async (ctx) => {
    const isPrimary = ctx.host === primary;
    // What runs must match what is on disk: a file written by a killed run was never loaded.
    if (cc.facts.get(ctx.host)?.confStale) ctx.notified.add('postgresql-reload');
    try {
      await runSteps(ctx, installRole(cc.version, { pgdg: plan.primary.vars.pg_pgdg_repo }));
      installed.get(ctx.host)!.resolve(true);
      if (isPrimary) {
        // A replica about to be promoted gets its synchronous standbys named first (a standby ignores
        // them): from its first write as a primary, an acknowledged commit is on a sync replica.
        if (plan.primaryAction === 'promote') await runSteps(ctx, syncRole(cc, ctx.host));
        await runSteps(ctx, primaryRole(cc, ctx.host));
        primaryReady(true);
        return;
      }
      await runSteps(ctx, configRole(cc, ctx.host));
    } catch (err) {
      if (isPrimary) primaryReady(false);
      throw err;
    }
    if (!(await primaryDone)) throw new Error(`primary ${primary} failed; replica not built`);
    if (backup && plan.replicas.some((r) => r.member.host === ctx.host && r.action === 'clone')) await backup.stanzaReady;
    // pg_replica_source: backup restores with this host's own pgBackRest: its files and TLS server first.
    if (backup && replicaSource(cc, ctx.host) === 'backup') await backup.memberReady(ctx.host);
    await runSteps(ctx, [cloneStep(cc, ctx.host), ...serviceRole(cc, ctx.host)]);
  });
  for (const h of [...built.failed, ...built.unreachable]) installed.get(h)!.resolve(false);
  if (built.failed.includes(primary) || built.unreachable.includes(primary)) {
    await Promise.all([bouncersDone, backup?.stanzaReady]);
    return;
  }

  // Settings that need a restart: one host at a time, in an order the replicas accept (roles/restart.ts).
  // archive_mode (pg_backup) is one of them: the stanza exists by then, so the first segment archives.
  await backup?.stanzaReady;
  await restartPending(run, cc);

  // Sync settings and the service name depend on the primary being ready, not on each other.
  await Promise.all([
    run.onHosts(built.succeeded, (ctx) => runSteps(ctx, syncRole(cc, ctx.host)).then(() => {})),
    bouncersDone,
    registerRole(run, cc),
    backup?.finish(),
  ]);
  // Last, once every replica streams from the primary: slots former primaries (or a switchover's
  // target) still keep for members would only pin WAL.
  await run.onHosts(
    built.succeeded.filter((h) => h !== primary),
    (ctx) => runSteps(ctx, [staleSlotsStep(cc, ctx.host)]).then(() => {}),
  );

  if (plan.deactivate.length) {
    const gone = await run.onHosts(
      plan.deactivate.map((m) => m.host),
      (ctx) => runSteps(ctx, deactivateRole(cc, ctx.host)).then(() => {}),
    );
    // Their slots could only be dropped once their walreceivers stopped; the facts still show them active.
    if (gone.succeeded.length) {
      cc.touched.add(primary);
      await run.onHosts([primary], (ctx) => runSteps(ctx, [slotsStep(cc, { deactivated: gone.succeeded })]).then(() => {}));
    }
  }

  const replicas = plan.replicas.map((r) => r.member.host);
  const sync = syncSetting(plan.syncCandidates, spec.syncReplicas);
  run.message(
    `cluster ${spec.name}: primary ${primary}${replicas.length ? `, replicas ${replicas.join(', ')}` : ''}${sync ? `; synchronous_standby_names '${sync}'` : ''}`,
  );
  if (plan.primaryAction === 'bootstrap' && !run.options.check) announceNewCluster(run, cc);
}

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Printed once, when the cluster is created: the only time pgtasks shows the admin password. */
export function announceNewCluster(run: Run, cc: Pick<ClusterContext, 'spec' | 'plan' | 'creds'>): void {
  const host = cc.spec.serviceName ?? cc.plan.primary.address;
  const passwordFile = `${cc.creds.dir}/${ADMIN_USER}.password`;
  // pg_tls: verified TLS, the server's name checked against the CA in the credentials folder.
  const tls = tlsConnParams(cc.spec);
  // --json output is kept in logs and CI artifacts: it says where the password is, never what it is.
  const text = run.options.json
    ? ''
    : [
        '',
        `Cluster ${cc.spec.name} is ready. Connect with:`,
        `  psql "host=${host} port=${cc.spec.port} user=${ADMIN_USER} dbname=postgres${tlsConnText(tls)}"`,
        `  password: ${cc.creds.admin}`,
        `(kept in ${passwordFile}, mode 0600; it is not shown again)`,
        // The service name may not resolve on this machine (the lab's lives on its own BIND): a line that works here too.
        ...primaryAddressLines(cc.spec, cc.plan.primary, ADMIN_USER, tls),
        '',
      ].join('\n');
  const data = { cluster: cc.spec.name, host, port: cc.spec.port, user: ADMIN_USER, dbname: 'postgres', passwordFile, ...tls };
  run.emit({ type: 'result', task: 'configure-cluster', data, text });
}
