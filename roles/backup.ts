import type { ClusterContext } from '../src/cluster/cluster-context.js';
import { clustersOf, type ClusterSpec, type Member } from '../src/cluster/vars.js';
import { and, inline, raw, script, sh, type Command } from '../src/connection/shell.js';
import { handled, notify, runAction, type Action } from '../src/engine/action.js';
import { fact } from '../src/engine/fact.js';
import { reads, type HostView } from '../src/engine/host-view.js';
import type { HostOutcome, Run } from '../src/engine/run.js';
import { change, ok, runSteps, skip, step, type Step } from '../src/engine/step.js';
import { cipherPass, memberTls, repoHostTls, type HostTls } from '../src/backup/certs.js';
import {
  CERT_DIR,
  DEFAULT_TLS,
  PGBACKREST_CONF,
  renderMemberConfig,
  renderRepoConfig,
  type Endpoint,
  type StanzaInput,
} from '../src/backup/pgbackrest-config.js';
import { parseInfoJson, STANZA_STATUS, statusMessage, type StanzaSummary } from '../src/backup/pgbackrest-info.js';
import { PGBACKREST_SERVER_PIDFILE, pgbackrestFact, type PgBackRestFacts } from '../src/facts/pgbackrest.js';
import { filesStep, readFiles, type FileSpec } from '../src/steps/files.js';
import { query } from '../src/steps/postgres.js';

/*
 * Backups with pgBackRest (pg_backup), the configure-cluster side: pgBackRest installed, its TLS
 * server running with certificates from pgtasks' CA on every member and on the repository host, the
 * repository host's file listing every cluster that uses it (one stanza each), the stanza created and
 * checked once the primary archives, and the schedule as a cron file on the repository host.
 * WAL archiving itself (archive_mode, archive_command) is in postgresql.conf (templates/), so the
 * config role writes it and the ordered restart phase applies archive_mode. Layout and reasons:
 * docs/pgbackrest-notes.md.
 */

export const PGBACKREST_USER = 'postgres';
const OWNED = { owner: PGBACKREST_USER, group: PGBACKREST_USER };

/** The cron file of a cluster's schedule on its repository host (cron.d ignores names with a dot: cluster names have none). */
export function cronFile(cluster: string): string {
  return `/etc/cron.d/pgtasks-backup-${cluster}`;
}

/** Members that take part (pg_state: present), in inventory order: pgBackRest asks each which is the primary. */
export function presentMembers(spec: ClusterSpec): Member[] {
  return spec.members.filter((m) => m.vars.pg_state !== 'absent');
}

/** The clusters of the inventory whose backups live on `repoHost`, in inventory order. */
export function clustersOnRepo(specs: ClusterSpec[], repoHost: string): ClusterSpec[] {
  return specs.filter((s) => s.backup?.repo_host === repoHost);
}

/** The stanza names a repository host holds: one per cluster that backs up there. */
export function repoStanzaNames(specs: ClusterSpec[], repoHost: string): string[] {
  return clustersOnRepo(specs, repoHost).map((s) => s.name);
}

/** What the repository host's file says of one cluster. */
export function stanzaInput(spec: ClusterSpec, version: number, cipher: string | undefined): StanzaInput {
  const b = spec.backup!;
  return {
    cluster: spec.name,
    version,
    port: spec.port,
    members: presentMembers(spec).map((m): Endpoint => ({ host: m.host, address: m.address })),
    retention: { full: b.retention_full, diff: b.retention_diff },
    cipherPass: b.encrypt ? cipher : undefined,
  };
}

/** Certificates and keys as files under /etc/pgbackrest/cert (keys 0600, never shown). */
export function certFiles(tls: HostTls): FileSpec[] {
  const t = DEFAULT_TLS;
  return [
    { path: t.server.caFile, ...OWNED, mode: '0644', content: tls.ca },
    { path: t.server.certFile, ...OWNED, mode: '0644', content: tls.serverCert },
    { path: t.server.keyFile, ...OWNED, mode: '0600', secret: true, content: tls.serverKey },
    { path: t.client.certFile, ...OWNED, mode: '0644', content: tls.clientCert },
    { path: t.client.keyFile, ...OWNED, mode: '0600', secret: true, content: tls.clientKey },
  ];
}

/** pgbackrest.conf: 0640 root:postgres (the repository host's holds the cipher passes). */
export function confFile(content: string, secret: boolean): FileSpec {
  return { path: PGBACKREST_CONF, owner: 'root', group: PGBACKREST_USER, mode: '0640', content, secret };
}

/** A member's files: its config (repository over TLS, its stanza, its own TLS server) and certificates. */
export function memberFiles(spec: ClusterSpec, version: number, tls: HostTls): FileSpec[] {
  const b = spec.backup!;
  const conf = renderMemberConfig({ cluster: spec.name, version, port: spec.port, repo: { host: b.repo_host, address: b.repoAddress }, tlsPort: b.tls_port });
  return [confFile(conf, false), ...certFiles(tls)];
}

/** The repository host's files: every stanza it holds, and its certificates. */
export function repoFiles(stanzas: StanzaInput[], tlsPort: number, tls: HostTls): FileSpec[] {
  const encrypted = stanzas.some((s) => s.cipherPass !== undefined);
  return [confFile(renderRepoConfig({ stanzas, tlsPort }), encrypted), ...certFiles(tls)];
}

/**
 * `pgbackrest backup` for a stanza; from a standby (backup-standby) or the primary, as asked. `detail`:
 * a line per file copied, with the share done (progress for `pgtasks backup`; the cron line needs none).
 */
export function backupCommand(stanza: string, type: 'full' | 'diff' | 'incr', standby: boolean, detail = false): Command {
  return sh`pgbackrest ${`--stanza=${stanza}`} ${`--type=${type}`} ${[standby ? '--backup-standby' : '--no-backup-standby', ...(detail ? ['--log-level-console=detail'] : [])]} backup`;
}

/**
 * The schedule on the repository host. pgBackRest 2.45's backup-standby fails when no standby runs
 * ("unable to find standby cluster"; `prefer` arrived in 2.54): with replicas in the inventory the
 * line tries a standby first and, if that fails, the primary; a cluster without replicas backs up its
 * primary. expire runs after each backup (retention).
 */
export function cronContent(spec: ClusterSpec): string {
  const b = spec.backup!;
  const replicas = presentMembers(spec).length > 1;
  const lines = (['full', 'diff', 'incr'] as const).flatMap((type) => {
    const when = b.schedule[type];
    if (!when) return [];
    const primary = backupCommand(spec.name, type, false);
    const cmd = replicas ? `${backupCommand(spec.name, type, true)} || ${primary}` : primary;
    return [`${when.trim().split(/\s+/).join(' ')} ${PGBACKREST_USER} ${cmd}`];
  });
  return [
    `# Managed by pgtasks: backups of cluster ${spec.name} (pg_backup.schedule); edits here are replaced on the next run.`,
    'SHELL=/bin/sh',
    'PATH=/usr/sbin:/usr/bin:/sbin:/bin',
    ...lines,
    '',
  ].join('\n');
}

/** The lines of the existing file's [stanza] section tell which major a cluster runs (its pg1-path). */
export function versionInConfig(conf: string, stanza: string): number | undefined {
  const section = conf.split(/^\[/m).find((s) => s.startsWith(`${stanza}]`));
  const m = section && /^pg1-path=\/var\/lib\/postgresql\/(\d+)\//m.exec(section);
  return m ? Number(m[1]) : undefined;
}

// ---- steps -------------------------------------------------------------------------------------

export function installStep(): Step {
  return step('backup: install', async (view) => {
    const f = await fact(view, pgbackrestFact);
    if (f.version) return ok(`pgBackRest ${f.version}`);
    return change('apt-get install pgbackrest', [
      runAction(raw('DEBIAN_FRONTEND=noninteractive apt-get install -y -q pgbackrest'), { user: 'root', timeoutMs: 10 * 60_000 }),
    ]);
  });
}

/**
 * The files in one round trip: a changed certificate restarts the TLS server (it reads them when it
 * starts), a changed pgbackrest.conf reloads it (SIGHUP re-reads tls-server-auth; each connection's
 * process reads the file itself).
 */
export function filesOfHost(files: (view: HostView) => FileSpec[] | Promise<FileSpec[]>): Step {
  return filesStep('backup: files', files, {
    before: async () => [runAction(sh`install -d -m 0755 /etc/pgbackrest && install -d -o ${PGBACKREST_USER} -g ${PGBACKREST_USER} -m 0750 ${CERT_DIR}`)],
    then: async (_view, differing) => [
      ...(differing.some((f) => f.path.startsWith(`${CERT_DIR}/`)) ? [notify('pgbackrest-restart')] : []),
      ...(differing.some((f) => f.path === PGBACKREST_CONF) ? [notify('pgbackrest-reload')] : []),
    ],
  });
}

/** The server's pid, only when the pid file names a live pgbackrest (never a signal to a stale number). */
const LIVE_PID = and(sh`p=$(cat ${PGBACKREST_SERVER_PIDFILE})`, raw('[ "$(cat /proc/$p/comm)" = pgbackrest ]'));

function startCommand(port: number): Command {
  return script(
    raw('set -e'),
    sh`install -d -o ${PGBACKREST_USER} -g ${PGBACKREST_USER} -m 2775 /var/run/postgresql`,
    // Its own session (setsid), out of this SSH session; the pid file names it (exec keeps the pid).
    sh`runuser -u ${PGBACKREST_USER} -- setsid -f sh -c 'echo $$ > "$0"; exec pgbackrest server' ${PGBACKREST_SERVER_PIDFILE} < /dev/null >> /var/log/pgbackrest/tls-server.out 2>&1`,
    waitListening(port),
  );
}

/** Bounded: the server listens within a few seconds or the step fails with its output. */
function waitListening(port: number): Command {
  return script(
    sh`for i in $(seq 100); do ss -Hltn ${`sport = :${port}`} | grep -q . && exit 0; sleep 0.05; done`,
    raw('echo "the pgBackRest TLS server does not listen; its output:" >&2; tail -n 5 /var/log/pgbackrest/tls-server.out >&2; exit 1'),
  );
}

function serverActions(f: PgBackRestFacts, what: 'start' | 'restart' | 'reload', port: number): Action[] {
  if (f.systemd) {
    const cmd =
      what === 'start'
        ? raw('systemctl enable --now pgbackrest')
        : what === 'restart'
          ? raw('systemctl restart pgbackrest')
          : raw('systemctl reload pgbackrest');
    return [runAction(cmd)];
  }
  if (what === 'reload') return [runAction(and(LIVE_PID, raw('kill -HUP "$p"')))];
  if (what === 'start') return [runAction(startCommand(port))];
  const stop = script(
    sh`if ${inline(LIVE_PID)}; then kill -TERM "$p"; for i in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done; fi`,
    // The listening socket goes with the process; a child serving a connection may outlive it briefly.
    sh`for i in $(seq 100); do ss -Hltn ${`sport = :${port}`} | grep -q . || break; sleep 0.05; done`,
  );
  return [runAction(script(stop, startCommand(port)))];
}

/** The TLS server runs, and has read the files as they are now. */
export function serverStep(port: number): Step {
  return step('backup: TLS server', async (view) => {
    const f = await fact(view, pgbackrestFact);
    const done = [handled('pgbackrest-restart'), handled('pgbackrest-reload')];
    if (!f.serverRunning) return change(`start the pgBackRest TLS server (port ${port})`, [...serverActions(f, 'start', port), ...done]);
    if (view.notified.has('pgbackrest-restart'))
      return change('restart the TLS server (certificates changed)', [...serverActions(f, 'restart', port), ...done]);
    if (view.notified.has('pgbackrest-reload'))
      return change('reload the TLS server (SIGHUP: pgbackrest.conf changed)', [...serverActions(f, 'reload', port), ...done]);
    return ok(`running (port ${port})`);
  });
}

/** pgBackRest on one host: installed, its files as wanted, its TLS server up to date. */
export function pgbackrestHostRole(files: (view: HostView) => FileSpec[] | Promise<FileSpec[]>, port: number): Step[] {
  return [installStep(), filesOfHost(files), serverStep(port)];
}

/** `pgbackrest info` of one stanza on the repository host (a read: it only reads the repository). */
export async function readStanza(view: HostView, stanza: string): Promise<StanzaSummary | undefined> {
  const r = await view.read(reads(sh`pgbackrest ${`--stanza=${stanza}`} --output=json info`), { user: PGBACKREST_USER, allowFailure: true });
  if (r.code !== 0 && !r.stdout.trim()) {
    if (view.check) return undefined; // pgBackRest not installed yet: what would happen is a stanza-create
    throw new Error(`pgbackrest info --stanza=${stanza} failed: ${(r.stderr || r.stdout).trim()}`);
  }
  return parseInfoJson(r.stdout).find((s) => s.name === stanza);
}

/** The stanza exists (stanza-create is idempotent, but a no-op run should run nothing): created when missing. */
export function stanzaStep(stanza: string): Step {
  return step(`backup: stanza ${stanza}`, async (view) => {
    const s = await readStanza(view, stanza);
    const missing = !s || s.status.code === STANZA_STATUS.missingStanzaPath || s.status.code === STANZA_STATUS.missingStanzaData;
    if (missing) {
      return change(`pgbackrest stanza-create (${s ? statusMessage(s) : 'new'})`, [
        runAction(sh`pgbackrest ${`--stanza=${stanza}`} stanza-create`, { user: PGBACKREST_USER, timeoutMs: 5 * 60_000 }),
      ]);
    }
    if (s.status.code === STANZA_STATUS.other) throw new Error(`stanza ${stanza}: ${statusMessage(s)}`);
    return ok(`${s.backups.length} backup(s)${s.archive?.max ? `, WAL archived up to ${s.archive.max}` : ''}`);
  });
}

/**
 * On the primary, once archive_mode is in effect: `pgbackrest check` (it switches WAL and waits until
 * the segment is in the repository) when anything about backups changed this run, or when the
 * archiver's last attempt failed. Otherwise only a look at pg_stat_archiver.
 */
export function archivingStep(cc: Pick<ClusterContext, 'spec'>, mustCheck: boolean): Step {
  const stanza = cc.spec.name;
  return step('backup: archiving', async (view) => {
    const [[mode, archived, failed, lastWal, lastFailedWal, failing] = []] = await query(
      view,
      cc.spec.port,
      `select current_setting('archive_mode'), archived_count, failed_count, coalesce(last_archived_wal, ''), coalesce(last_failed_wal, ''),
  (last_failed_time is not null and (last_archived_time is null or last_failed_time > last_archived_time))::text from pg_stat_archiver`,
    );
    if (mode !== 'on') return skip(`archive_mode is ${mode ?? 'unknown'}: it takes effect when PostgreSQL restarts`);
    const check = runAction(sh`pgbackrest ${`--stanza=${stanza}`} check`, { user: PGBACKREST_USER, timeoutMs: 3 * 60_000 });
    if (failing === 'true') return change(`pgbackrest check: the archiver's last attempt failed (${lastFailedWal}, ${failed} failure(s) so far)`, [check]);
    if (mustCheck) return change('pgbackrest check (WAL switch, archived into the repository)', [check]);
    return ok(`${archived} segment(s) archived${lastWal ? `, last ${lastWal}` : ''}${failed !== '0' ? `, ${failed} earlier failure(s)` : ''}`);
  });
}

export function scheduleStep(spec: ClusterSpec): Step {
  return filesStep(`backup: schedule ${spec.name}`, () => [
    { path: cronFile(spec.name), owner: 'root', group: 'root', mode: '0644', content: cronContent(spec) },
  ]);
}

// ---- the phase in configure-cluster ------------------------------------------------------------

/** Everything the hosts receive, computed on this machine (certificates, the repository keys). */
export interface BackupMaterial {
  repoHost: string;
  repoTls: HostTls;
  memberTls: Map<string, HostTls>;
  /** The clusters sharing the repository host, each with its cipher pass (undefined when not encrypted). */
  stanzas: { spec: ClusterSpec; cipher?: string }[];
}

/**
 * Certificates and keys for the repository host and the cluster's members, and the cipher passes of
 * every cluster on that repository host (its file lists them all). One at a time: they share the CA.
 */
export async function backupMaterial(run: Run, spec: ClusterSpec, hosts: Member[]): Promise<BackupMaterial> {
  const b = spec.backup!;
  const write = !run.options.check;
  const sharing = clustersOnRepo(clustersOf(await run.inventory()), b.repo_host);
  const dirs = new Set(sharing.map((s) => s.credentialsDir));
  if (dirs.size > 1)
    throw new Error(
      `clusters ${sharing.map((s) => s.name).join(', ')} back up to ${b.repo_host} but keep their credentials in different folders (${[...dirs].join(', ')}): ` +
        'its CA is kept with them; give them the same pg_credentials_dir',
    );
  const base = { credentialsDir: spec.credentialsDir, repoHost: b.repo_host, repoAddress: b.repoAddress, write };
  const repoTls = await repoHostTls(base);
  const members = new Map<string, HostTls>();
  for (const m of hosts) members.set(m.host, await memberTls({ ...base, cluster: spec.name, host: m.host, address: m.address }));
  const stanzas = [];
  for (const s of sharing) stanzas.push({ spec: s, cipher: s.backup!.encrypt ? await cipherPass(s.credentialsDir, s.name, write, run.secrets) : undefined });
  return { repoHost: b.repo_host, repoTls, memberTls: members, stanzas };
}

/** The repository host's stanzas; a cluster whose major is unknown here keeps what the file says (else this cluster's). */
export function repoStanzas(m: BackupMaterial, known: { cluster: string; version: number }, existing: string | undefined): StanzaInput[] {
  return m.stanzas.map(({ spec, cipher }) => {
    const version =
      spec.name === known.cluster ? known.version : (spec.version ?? (existing ? versionInConfig(existing, spec.name) : undefined) ?? known.version);
    return stanzaInput(spec, version, cipher);
  });
}

export function repoHostRole(cc: Pick<ClusterContext, 'spec' | 'version'>, m: BackupMaterial): Step[] {
  const b = cc.spec.backup!;
  return pgbackrestHostRole(async (view) => {
    const unknown = m.stanzas.some((s) => s.spec.name !== cc.spec.name && s.spec.version === undefined);
    const existing = unknown ? (await readFiles(view, [PGBACKREST_CONF])).get(PGBACKREST_CONF) : undefined;
    return repoFiles(repoStanzas(m, { cluster: cc.spec.name, version: cc.version }, existing), b.tls_port, m.repoTls);
  }, b.tls_port);
}

export function memberBackupRole(cc: Pick<ClusterContext, 'spec' | 'version'>, m: BackupMaterial, host: string): Step[] {
  return pgbackrestHostRole(() => memberFiles(cc.spec, cc.version, m.memberTls.get(host)!), cc.spec.backup!.tls_port);
}

export interface BackupPhase {
  /** Resolves once the stanza exists (or its setup failed): new replicas are cloned after it, so no segment is archived into nothing. */
  stanzaReady: Promise<void>;
  /** Resolves once pgBackRest is set up on this member (true) or could not be (false): a replica built from the repository waits for it. */
  memberReady(host: string): Promise<boolean>;
  /** After the restarts: check archiving, write the schedule. */
  finish(): Promise<void>;
}

const succeeded = (o: HostOutcome) => o.failed.length === 0 && o.unreachable.length === 0;

/**
 * The backup part of configure-cluster for a cluster with pg_backup, started beside the builds:
 * pgBackRest on the repository host and on each member (once its packages are in), then the stanza as
 * soon as the primary runs, before any replica is cloned (a clone switches WAL: its segment must find
 * the stanza). finish() runs after the ordered restarts, when archive_mode is in effect.
 */
export function startBackupPhase(
  run: Run,
  cc: ClusterContext,
  present: string[],
  installed: (host: string) => Promise<boolean>,
  primaryDone: Promise<boolean>,
): BackupPhase {
  const b = cc.spec.backup!;
  const primary = cc.plan.primary.host;
  const members = cc.spec.members.filter((m) => present.includes(m.host));
  let changed = false;
  const material = backupMaterial(run, cc.spec, members).catch((err: Error) => {
    run.refuse(`cluster ${cc.spec.name}: backups: ${err.message}`);
    return undefined;
  });
  const onRepo = async (steps: Step[]) => run.onHosts([b.repo_host], async (ctx) => void (changed = (await runSteps(ctx, steps)) || changed));
  const repoSetup = material.then((m) => (m ? onRepo(repoHostRole(cc, m)).then(succeeded) : false));
  const memberSetup = new Map(
    present.map((h) => [
      h,
      Promise.all([material, installed(h)]).then(async ([m, ok]) =>
        m && ok ? succeeded(await run.onHosts([h], async (ctx) => void (changed = (await runSteps(ctx, memberBackupRole(cc, m, h))) || changed))) : false,
      ),
    ]),
  );
  const stanza = Promise.all([repoSetup, memberSetup.get(primary)!, primaryDone]).then(async (oks) =>
    oks.every(Boolean) ? succeeded(await onRepo([stanzaStep(cc.spec.name)])) : false,
  );
  return {
    stanzaReady: stanza.then(() => {}),
    memberReady: (host) => memberSetup.get(host) ?? Promise.resolve(false),
    async finish() {
      const [ready, ...each] = await Promise.all([stanza, ...memberSetup.values()]);
      if (!ready) return;
      if (each.some((x) => !x))
        run.message(`cluster ${cc.spec.name}: pgBackRest is not set up on every member: backups from a replica or after a switchover may fail`);
      await run.onHosts([primary], (ctx) => runSteps(ctx, [archivingStep(cc, changed)]).then(() => {}));
      await onRepo([scheduleStep(cc.spec)]);
    },
  };
}
