import { PGBACKREST_CONF, renderRepoConfig } from '../src/backup/pgbackrest-config.js';
import type { RestoreTarget } from '../src/backup/pgbackrest-restore.js';
import { readStanza } from '../src/backup/read.js';
import { planRestore, stamp, type RestorePlan } from '../src/backup/restore-plan.js';
import type { ArchiveEnd } from '../src/backup/restore-target.js';
import type { ClusterContext } from '../src/cluster/cluster-context.js';
import { clusterCredentials } from '../src/cluster/credentials.js';
import { gatherCluster } from '../src/cluster/gather.js';
import { longCommandEnv } from '../src/cluster/lock.js';
import { withPrimary } from '../src/cluster/primary-session.js';
import type { ClusterSpec } from '../src/cluster/vars.js';
import { inline, raw, script, sh, type Command } from '../src/connection/shell.js';
import { call, runAction, sqlAction, type Action } from '../src/engine/action.js';
import type { HostContext } from '../src/engine/host-context.js';
import { reads } from '../src/engine/host-view.js';
import type { Run } from '../src/engine/run.js';
import { change, runSteps, step, type Step } from '../src/engine/step.js';
import { TaskRefused } from '../src/engine/task.js';
import { readFiles } from '../src/steps/files.js';
import { pgLogTail, pgServiceCommand, pgStatusCommand, type PgService } from '../src/steps/postgres.js';
import { backupMaterial, confFile, filesOfHost, memberBackupRole, repoStanzas, serverStep } from './backup.js';
import { configureCluster, planFromHosts } from './cluster.js';
import { configRole } from './config.js';
import { installRole } from './install.js';
import { pgServiceAction } from './service.js';

/*
 * restore-cluster: point-in-time restore from the source cluster's stanza, into the hosts of another
 * cluster of the inventory (the source untouched) or in place (disaster recovery). The decision is
 * src/backup/restore-plan.ts's, made from what was read before anything changes; this carries it out:
 * restore into a side directory, rename it in (never over data), start, wait for the promotion at the
 * target, clear the recovery settings, then configure-cluster builds the replicas, PgBouncer, the name.
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * How far the source's archive surely reaches, asked of its running primary: the time and LSN now,
 * a commit after them (so a recovery to any earlier point finds a record past its target and stops
 * there instead of failing at the end of the WAL), a WAL switch, then pg_stat_archiver until the
 * switched segment is archived. Undefined (with why) when no primary runs.
 */
export async function forceArchiveEnd(run: Run, spec: ClusterSpec, timeoutMs = 60_000): Promise<{ end?: ArchiveEnd; why?: string }> {
  try {
    return await withPrimary(run, spec, async ({ host, session }) => {
      const [mark] = await session.query<{ time: Date; lsn: string; xid: string }>(
        'select clock_timestamp() as time, pg_current_wal_lsn()::text as lsn, txid_current()::text as xid',
      );
      const [sw] = await session.query<{ segment: string }>('select pg_walfile_name(pg_switch_wal()) as segment');
      const segment = sw!.segment;
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const [a] = await session.query<{ wal: string | null; failed: string | null; failedTime: Date | null; archivedTime: Date | null }>(
          'select last_archived_wal as wal, last_failed_wal as failed, last_failed_time as "failedTime", last_archived_time as "archivedTime" from pg_stat_archiver',
        );
        const done = a?.wal && /^[0-9A-F]{24}$/.test(a.wal.slice(0, 24)) && a.wal.slice(0, 24) >= segment;
        if (done) return { end: { time: new Date(mark!.time), lsn: mark!.lsn, segment } };
        if (Date.now() > deadline) {
          const failing = a?.failedTime && (!a.archivedTime || a.failedTime > a.archivedTime) ? `; the archiver fails (last failure ${a.failed})` : '';
          throw new TaskRefused(
            `cluster ${spec.name}: WAL segment ${segment} was not archived within ${timeoutMs / 1000} s of a WAL switch on ${host}${failing}: the archive's end is unknown`,
          );
        }
        await sleep(200);
      }
    });
  } catch (err) {
    if (err instanceof TaskRefused && /WAL segment/.test(err.message)) throw err;
    return { why: (err as Error).message };
  }
}

/** The repository host's file, with (or without) the restore's temporary grant; the TLS server reloads it (SIGHUP). */
async function repoGrant(run: Run, source: ClusterSpec, version: number, grants: RestorePlan['grant'][]): Promise<void> {
  const b = source.backup!;
  const m = await backupMaterial(run, source, []);
  const ctx = await run.context(b.repo_host);
  const existing = (await readFiles(ctx.view, [PGBACKREST_CONF])).get(PGBACKREST_CONF);
  const stanzas = repoStanzas(m, { cluster: source.name, version }, existing);
  const content = renderRepoConfig({ stanzas, tlsPort: b.tls_port, grants: grants.filter((g) => g !== undefined) });
  const encrypted = stanzas.some((s) => s.cipherPass !== undefined);
  const files = [confFile(content, encrypted)];
  const done = await run.onHosts([b.repo_host], (c) => runSteps(c, [filesOfHost(() => files), serverStep(b.tls_port)]).then(() => {}));
  if (done.failed.length || done.unreachable.length) throw new Error(`the repository host ${b.repo_host} did not take the change of tls-server-auth`);
}

/** pgbackrest restore into the side directory (removed first: a killed run's half-made copy), as postgres, marked with the run's tag. */
function restoreActions(p: RestorePlan): Action[] {
  const emptyOrRefuse = sh`if [ -n "$(ls -A ${p.dataDir} 2>/dev/null)" ]; then echo ${`${p.dataDir} is not empty: refusing to restore over it`} >&2; exit 1; fi`;
  return [
    runAction(script(raw('set -e'), ...(p.inPlace ? [] : [emptyOrRefuse]), sh`rm -rf ${p.side}`, sh`install -d -o postgres -g postgres -m 0700 ${p.side}`)),
    runAction(
      script(
        raw('set -e'),
        longCommandEnv(p.cluster.name),
        // A line per file restored, with the share done: progress events while it runs.
        sh`pgbackrest --log-level-console=detail ${p.args}`,
        // Debian keeps the configuration in /etc/postgresql; signals other than restore's own would mislead.
        sh`rm -f ${['postgresql.conf', 'pg_hba.conf', 'pg_ident.conf', 'standby.signal', 'postmaster.pid'].map((f) => `${p.side}/${f}`)}`,
      ),
      { user: 'postgres', timeoutMs: 6 * 60 * 60_000, progress: 'pgbackrest' },
    ),
  ];
}

/** pgbackrest restore into the side directory: the first step on the restore host (the source still runs for --in-place). */
export function restoreStep(p: RestorePlan): Step {
  return step('restore: pgbackrest restore', async () => change(`pgbackrest restore ${p.args.join(' ')}`, restoreActions(p)));
}

/** Renames the complete side directory in: in place, the old data directory goes aside first (kept). */
function swapCommand(p: RestorePlan): Command {
  const aside = p.aside.find((a) => a.host === p.host.host);
  return script(
    raw('set -e'),
    aside
      ? sh`if [ -e ${p.dataDir} ] && [ -n "$(ls -A ${p.dataDir} 2>/dev/null)" ]; then mv ${p.dataDir} ${aside.to}; fi`
      : sh`if [ -n "$(ls -A ${p.dataDir} 2>/dev/null)" ]; then echo ${`${p.dataDir} filled up during the restore: refusing to replace it`} >&2; exit 1; fi`,
    sh`rmdir ${p.dataDir} 2>/dev/null || true`,
    sh`mv ${p.side} ${p.dataDir}`,
  );
}

/** Recovery to the target and the promotion there: PostgreSQL stopping on the way is an error with its log. */
async function waitPromoted(ctx: HostContext, s: PgService, port: number, timeoutMs = 6 * 60 * 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let said = Date.now();
  for (;;) {
    const r = await ctx.run(sh`psql -X -At -p ${port} -d postgres -c ${'select pg_is_in_recovery(), pg_last_wal_replay_lsn()'}`, {
      user: 'postgres',
      allowFailure: true,
      quiet: true,
    });
    const [recovery, replayed] = r.stdout.trim().split('|');
    if (r.code === 0 && recovery === 'f') return;
    if ((await ctx.run(pgStatusCommand(s), { allowFailure: true, quiet: true })).code !== 0) {
      const log = (await ctx.run(pgLogTail(s), { allowFailure: true, quiet: true })).stdout.trim().split('\n').slice(-6).join('\n');
      throw new Error(`PostgreSQL stopped during recovery:\n${log}`);
    }
    if (Date.now() > deadline) throw new Error(`recovery did not reach its target within ${timeoutMs / 60_000} min`);
    if (Date.now() - said > 30_000) {
      said = Date.now();
      ctx.message(`recovering: replayed up to ${replayed ?? '?'}`);
    }
    await sleep(300);
  }
}

/**
 * Settings restore wrote to postgresql.auto.conf: left behind, a recovery_target_* would stop replay the
 * day this host becomes a standby, and restore_command would read the source's archive.
 */
export const RESET_RECOVERY_SQL = [
  'restore_command',
  'recovery_target',
  'recovery_target_time',
  'recovery_target_lsn',
  'recovery_target_xid',
  'recovery_target_name',
  'recovery_target_action',
  'recovery_target_inclusive',
  'recovery_target_timeline',
]
  .map((name) => `ALTER SYSTEM RESET ${name};`)
  .concat('select pg_reload_conf();')
  .join('\n');

/** On the restore host, once the side directory is complete: rename it in, start, wait for the promotion, clear the recovery settings. */
export function bringUpSteps(p: RestorePlan, s: PgService): Step[] {
  return [
    step('restore: rename in', async () => change(`rename ${p.side} to ${p.dataDir}`, [runAction(swapCommand(p))])),
    step('restore: recover', async () =>
      change('start PostgreSQL; recovery replays the archive to the target, then promotes', [
        pgServiceAction(s, 'start'),
        call('wait until recovery reaches its target and PostgreSQL promotes (its log on failure)', (ctx) => waitPromoted(ctx, s, p.cluster.port)),
      ]),
    ),
    // recovery_target_* take effect only at a start: without a restart they stay pending, and the next
    // reload of this server is refused. Nobody uses it yet (a new cluster, or the others stopped).
    step('restore: recovery settings', async () =>
      change('remove restore_command and recovery_target_* (ALTER SYSTEM RESET), restart to apply', [
        sqlAction(p.cluster.port, RESET_RECOVERY_SQL),
        pgServiceAction(s, 'stop', 'fast'),
        pgServiceAction(s, 'start'),
      ]),
    ),
  ];
}

export interface RestoreRequest {
  source: ClusterSpec;
  into?: ClusterSpec;
  target: RestoreTarget;
  yes: boolean;
}

/** Checks everything first (refusing with nothing changed), then restores; configure-cluster builds the rest. */
export async function restoreCluster(run: Run, req: RestoreRequest): Promise<void> {
  const { source } = req;
  const cluster = req.into ?? source;
  // Asked before anything is read (the archive check below switches WAL on the source).
  if (!req.into && !req.yes)
    return void run.refuse(
      `restore-cluster: --in-place stops every member of ${source.name}, renames their data directories (kept, never deleted) and restores the primary from the repository: add --yes; nothing was changed`,
    );
  const [stanza, gathered] = await Promise.all([
    source.backup ? readStanza(run, source) : Promise.resolve({ error: undefined, stanza: undefined }),
    gatherCluster(run, cluster),
  ]);
  // The archive's end: switch WAL on the source's running primary and wait for it to be archived
  // (not in check mode, which writes nothing; nor in place when no primary runs, the usual disaster).
  let archiveEnd: ArchiveEnd | undefined;
  if (source.backup && !stanza.error && !run.options.check) {
    const r = await forceArchiveEnd(run, source);
    archiveEnd = r.end;
    if (!r.end) run.message(`cluster ${source.name}: no running primary to switch WAL on (${r.why}): a target past the archive fails in recovery, not here`);
  }
  const decision = planRestore({
    source,
    into: req.into,
    facts: gathered.members,
    stanza: stanza.stanza,
    stanzaError: stanza.error,
    target: req.target,
    archiveEnd,
    yes: req.yes,
    now: new Date(),
  });
  if ('refusal' in decision) return void run.refuse(`restore-cluster: ${decision.refusal}`);
  const p = decision;
  run.message(p.message);
  for (const n of p.notes) run.message(n);
  if (p.inPlace) await restoreInPlace(run, p, gathered.systemd);
  else await restoreInto(run, p, source);
}

async function onHost(run: Run, host: string, steps: Step[]): Promise<void> {
  const r = await run.onHosts([host], (ctx) => runSteps(ctx, steps).then(() => {}));
  // The step's own failure was reported on its line: the error says where.
  if (r.failed.length || r.unreachable.length) throw new Error(`${r.unreachable.length ? 'unreachable' : 'a step failed'} on ${host}`);
}

async function restoreInto(run: Run, p: RestorePlan, source: ClusterSpec): Promise<void> {
  const into = p.cluster;
  const host = p.host.host;
  // NEW's own passwords (its admin and replicator), as for a new cluster: configure-cluster sets them on the restored roles.
  await clusterCredentials(into.credentialsDir, into.name, !run.options.check, run.secrets);
  const planned = await planFromHosts(run, into);
  if (!planned) return;
  const cc: ClusterContext = { ...planned.cc, creds: await clusterCredentials(into.credentialsDir, into.name, !run.options.check, run.secrets) };
  const s: PgService = { version: p.version, cluster: into.name, systemd: cc.systemd.get(host) ?? false };
  try {
    // PostgreSQL, its configuration (archive_command names NEW's stanza) and pgBackRest (NEW's client certificate).
    const material = await backupMaterial(run, into, [p.host]);
    await onHost(run, host, [...installRole(p.version, { pgdg: p.host.vars.pg_pgdg_repo }), ...memberBackupRole(cc, material, host), ...configRole(cc, host)]);
  } catch (err) {
    return void run.refuse(`restore-cluster: preparing ${host}: ${(err as Error).message}`);
  }
  let granted = false;
  try {
    await repoGrant(run, source, p.version, [p.grant]);
    granted = true;
    await onHost(run, host, [restoreStep(p), ...bringUpSteps(p, s)]);
  } catch (err) {
    // NEW served nobody yet: what the restore made goes aside (kept), so a run once the cause is fixed starts from empty hosts.
    const failedCopy = `${p.dataDir}.failed-restore-${stamp(new Date())}`;
    await run.onHosts([host], (ctx) =>
      runSteps(ctx, [
        step('restore: set the failed copy aside', async () =>
          change(`stop PostgreSQL if it runs, keep what was restored as ${failedCopy}`, [
            runAction(
              script(
                sh`if ${inline(pgStatusCommand(s))}; then ${inline(pgServiceCommand(s, 'stop', 'fast'))} || true; fi`,
                sh`if [ -n "$(ls -A ${p.dataDir} 2>/dev/null)" ]; then mv ${p.dataDir} ${failedCopy}; fi`,
                sh`rm -rf ${p.side}`,
              ),
            ),
          ]),
        ),
      ]).then(() => {}),
    );
    return void run.refuse(
      `restore-cluster: ${(err as Error).message}; ${source.name} was not touched; what was restored into ${into.name} is kept as ${host}:${failedCopy}; run it again once the cause is fixed`,
    );
  } finally {
    if (granted || run.options.check)
      await repoGrant(run, source, p.version, []).catch((err: Error) => run.message(`revoking the restore's access to ${source.name}: ${err.message}`));
  }
  if (run.options.check) return;
  await configureCluster(run, into);
  announce(run, p, source, []);
}

/** What was restored, for scripts (--json) and people. */
function announce(run: Run, p: RestorePlan, source: ClusterSpec, kept: string[]): void {
  const data = {
    source: source.name,
    cluster: p.cluster.name,
    inPlace: p.inPlace,
    host: p.host.host,
    target: p.args.find((a) => a.startsWith('--target='))?.slice('--target='.length) ?? 'latest',
    backup: p.backup.label,
    kept,
  };
  const text = `restored ${source.name}${p.inPlace ? ' in place' : ` into ${p.cluster.name}`} on ${p.host.host} from backup ${p.backup.label}${
    kept.length ? `; old data directories kept: ${kept.join(', ')}` : ''
  }`;
  run.emit({ type: 'result', task: 'restore-cluster', data, text });
}

async function restoreInPlace(run: Run, p: RestorePlan, systemd: Map<string, boolean>): Promise<void> {
  const c = p.cluster;
  const host = p.host.host;
  const svc = (h: string): PgService => ({ version: p.version, cluster: c.name, systemd: systemd.get(h) ?? false });
  try {
    // While the cluster still runs: the copy is made beside its data directory.
    await onHost(run, host, [restoreStep(p)]);
  } catch (err) {
    return void run.refuse(`restore-cluster: ${(err as Error).message}; cluster ${c.name} was not touched`);
  }
  const moved: string[] = [];
  try {
    const aside = await run.onHosts(
      p.aside.map((a) => a.host),
      async (ctx) => {
        const a = p.aside.find((x) => x.host === ctx.host)!;
        await runSteps(ctx, [
          step('restore: set aside', async (view) => {
            const running = (await view.read(reads(pgStatusCommand(svc(ctx.host))), { allowFailure: true })).code === 0;
            return change(`stop PostgreSQL, keep ${a.from} as ${a.to}`, [
              ...(running ? [pgServiceAction(svc(ctx.host), 'stop', 'fast')] : []),
              // The restore host renames its own in the same command that renames the restored copy in.
              ...(ctx.host === host ? [] : [runAction(sh`mv ${a.from} ${a.to}`), call('remember the move', async () => void moved.push(ctx.host))]),
            ]);
          }),
        ]);
      },
    );
    if (aside.failed.length || aside.unreachable.length) throw new Error(`could not stop and set aside ${[...aside.failed, ...aside.unreachable].join(', ')}`);
    if (p.aside.some((a) => a.host === host)) moved.push(host);
    await onHost(run, host, bringUpSteps(p, svc(host)));
  } catch (err) {
    run.message(`restore-cluster: ${(err as Error).message}: putting the old data directories back`);
    await putBack(run, p, moved, svc);
    return void run.refuse(
      `restore-cluster: the restore of ${c.name} failed (${(err as Error).message}); its data directories are back where they were; nothing else was changed`,
    );
  }
  if (run.options.check) return;
  await configureCluster(run, c);
  announce(
    run,
    p,
    c,
    p.aside.map((a) => `${a.host}:${a.to}`),
  );
}

/**
 * A failed in-place restore: the restored copy is kept aside too (as <data dir>.failed-restore-<time>),
 * every old data directory comes back, and runs again if it ran.
 */
async function putBack(run: Run, p: RestorePlan, moved: string[], svc: (h: string) => PgService): Promise<void> {
  const failedCopy = `${p.dataDir}.failed-restore-${stamp(new Date())}`;
  const hosts = [...new Set([p.host.host, ...p.aside.map((a) => a.host)])];
  await run.onHosts(hosts, async (ctx) => {
    const a = p.aside.find((x) => x.host === ctx.host);
    const s = svc(ctx.host);
    const restoreHost = ctx.host === p.host.host;
    const lines: Command[] = [raw('set -e')];
    if (restoreHost) {
      lines.push(sh`if ${inline(pgStatusCommand(s))}; then ${inline(pgServiceCommand(s, 'stop', 'fast'))} || true; fi`);
      // The restored copy is in place when the old directory went aside (or there was none): keep it aside.
      lines.push(
        a
          ? sh`if [ -e ${a.to} ] && [ -e ${p.dataDir} ]; then mv ${p.dataDir} ${failedCopy}; fi`
          : sh`if [ -n "$(ls -A ${p.dataDir} 2>/dev/null)" ]; then mv ${p.dataDir} ${failedCopy}; fi`,
      );
    }
    if (a && (restoreHost || moved.includes(ctx.host))) lines.push(sh`if [ -e ${a.to} ] && [ ! -e ${p.dataDir} ]; then mv ${a.to} ${p.dataDir}; fi`);
    await runSteps(ctx, [step('restore: put back', async () => change('put the old data directory back', [runAction(script(...lines))]))]);
    if (a?.wasRunning)
      await runSteps(ctx, [step('restore: start again', async () => change('start PostgreSQL on its old data', [pgServiceAction(s, 'start')]))]);
  });
}
