import { isIP } from 'node:net';
import { archiveCommand } from '../src/backup/pgbackrest-config.js';
import { REPLICATION_USER } from '../src/cluster/credentials.js';
import { findSuspects, parameterErrors, restartChanges, type SettingInfo } from '../src/cluster/parameter-check.js';
import { notePendingRestart } from '../src/cluster/pending-restarts.js';
import type { HostContext } from '../src/engine/host-context.js';
import { reads, type HostView } from '../src/engine/host-view.js';
import { renderLater } from '../src/engine/templates.js';
import { call, notify, runAction, type Action } from '../src/engine/action.js';
import { sh } from '../src/connection/shell.js';
import { describedSettings, fileSettingErrors, postgresVerdicts, serverSettings } from '../src/steps/pg-settings.js';
import { freshFacts, isReplica, memberOf, type ClusterContext } from '../src/cluster/cluster-context.js';
import { slotName, type HbaRule } from '../src/cluster/vars.js';
import { filesStep, readFiles, type FileSpec } from '../src/steps/files.js';
import { change, ok, step, type Step } from '../src/engine/step.js';
import { confDir, dataDir } from '../src/facts/postgres.js';
import { explainingTls, pgTlsFiles, pgTlsPaths, tlsEnabled } from './tls.js';

// This role renders postgresql.conf and pg_hba.conf: nunjucks loads while the run's hosts connect.
renderLater();

/** pg_hba addresses: a bare IP becomes a single-host CIDR; names and CIDRs pass through. */
export function hbaAddress(address: string): string {
  if (address.includes('/')) return address;
  const family = isIP(address);
  return family === 4 ? `${address}/32` : family === 6 ? `${address}/128` : address;
}

export function hbaLine(rule: HbaRule): string {
  if (typeof rule === 'string') return rule;
  return [rule.type, rule.database, rule.user, rule.type === 'local' ? '' : (rule.address ?? 'all'), rule.method].filter(Boolean).join('  ');
}

/** The files of /etc/postgresql/<version>/<cluster>/ for one member, rendered for its planned role. */
export function configFiles(cc: ClusterContext, host: string): FileSpec[] {
  const member = memberOf(cc, host);
  const dir = confDir(cc.version, cc.spec.name);
  const primary = cc.plan.primary;
  const common = {
    cluster: cc.spec.name,
    host,
    version: cc.version,
    port: cc.spec.port,
    conf_dir: dir,
    data_dir: dataDir(cc.version, cc.spec.name),
    replication_user: REPLICATION_USER,
    // pg_tls: ssl = on with the files roles/tls.ts puts beside these; remote pg_hba rules hostssl; replicas verify their primary.
    tls: tlsEnabled(cc.spec) ? pgTlsPaths(cc.version, cc.spec.name) : null,
  };
  const owned = { owner: 'postgres', group: 'postgres' };
  return [
    {
      path: `${dir}/postgresql.conf`,
      ...owned,
      mode: '0644',
      content: cc.templates.render('postgresql.conf.j2', {
        ...common,
        listen_addresses: member.vars.pg_listen_addresses,
        upstream: isReplica(cc, host) ? { host: primary.host, address: primary.address } : null,
        application_name: slotName(host),
        parameters: member.vars.pg_parameters,
        // pg_backup: WAL archiving to pgBackRest's repository, the same on every member (only the primary archives).
        archive: cc.spec.backup ? { command: archiveCommand(cc.spec.name), timeout: cc.spec.backup.archive_timeout } : null,
      }),
    },
    {
      path: `${dir}/pg_hba.conf`,
      ...owned,
      mode: '0640',
      content: cc.templates.render('pg_hba.conf.j2', {
        ...common,
        members: cc.spec.members.map((m) => ({ host: m.host, cidr: hbaAddress(m.address) })),
        extra: member.vars.pg_hba.map(hbaLine),
      }),
    },
    { path: `${dir}/pg_ident.conf`, ...owned, mode: '0640', content: '# MAPNAME  SYSTEM-USERNAME  PG-USERNAME\n' },
    { path: `${dir}/start.conf`, ...owned, mode: '0644', content: 'auto\n' },
    { path: `${dir}/pg_ctl.conf`, ...owned, mode: '0644', content: "pg_ctl_options = ''\n" },
    { path: `${dir}/environment`, ...owned, mode: '0644', content: '' },
    // Replicas (and pg_rewind) read the replication password from here, never from the command line.
    { path: `${dir}/pgpass`, ...owned, mode: '0600', secret: true, content: `*:${cc.spec.port}:*:${REPLICATION_USER}:${cc.creds.replicator}\n` },
  ];
}

/**
 * Writes a member's configuration; when anything changed, notifies the service step to reload
 * (which collects restarts PostgreSQL asks for: roles/restart.ts does them in order). Before a new
 * postgresql.conf is written, every member's pg_parameters are checked (see checkParameters), so a
 * typo stops the run before any host's file changes.
 */
export function configRole(cc: ClusterContext, host: string): Step[] {
  const dir = confDir(cc.version, cc.spec.name);
  const conf = `${dir}/postgresql.conf`;
  return [
    step('config: directories', async (view) => {
      if (cc.facts.get(host)?.configured) return ok();
      const { stdout } = await view.read(reads(sh`[ -d ${dir} ] && stat -c '%U' ${dir} || echo missing`));
      if (stdout.trim() === 'postgres') return ok();
      return change(`create ${dir}`, [runAction(sh`install -d -o postgres -g postgres -m 0755 ${`/etc/postgresql/${cc.version}`} ${dir}`)]);
    }),
    notifying(
      // pg_tls: the server's certificate, key and CA are among its files (in place before the server starts with ssl = on).
      explainingTls(
        cc,
        host,
        filesStep('config: files', async (view) => [...configFiles(cc, host), ...(await pgTlsFiles(cc, host, view))], {
          // Only a changed postgresql.conf costs a look at the settings: a no-op run adds no round trip.
          planned: async (view, differing) => {
            const next = differing.find((f) => f.path === conf);
            if (next) await checkParameters(cc, view, next.content);
          },
          // On a new host nothing exists yet: no read.
          before: async (view, differing, existing) => [
            rememberPrevious(
              differing,
              existing.length === 0
                ? new Map()
                : await readFiles(
                    view,
                    existing.map((f) => f.path),
                  ),
            ),
          ],
          then: async () => judgedOnceWritten(cc, host),
        }),
      ),
      'postgresql-reload',
    ),
  ];
}

/**
 * On a running server, the written files are judged by PostgreSQL at once (and put back if rejected),
 * whatever happens to the rest of the run; elsewhere the service step judges them before its reload.
 */
function judgedOnceWritten(cc: ClusterContext, host: string): Action[] {
  if (!freshFacts(cc, host)) return [];
  return [call('check that PostgreSQL accepts the new files (pg_file_settings); put the previous ones back if not', (ctx) => ensureConfigAccepted(cc, ctx))];
}

/**
 * Refuses (throws) when any member's pg_parameters has a name PostgreSQL does not know (custom
 * `ext.name` settings aside) or a value it would reject. The settings come from this host's running
 * server (pg_settings), else from its binaries (--describe-config); whatever looks wrong is confirmed
 * by PostgreSQL's own parser before it is refused. In check mode it also predicts restarts.
 */
export async function checkParameters(cc: ClusterContext, ctx: HostView, nextConf: string): Promise<void> {
  let settings: Map<string, SettingInfo> | undefined;
  if (cc.facts.get(ctx.host)?.running) settings = await serverSettings(ctx, cc.spec.port).catch(() => undefined);
  const fromServer = settings !== undefined;
  settings ??= await describedSettings(ctx, cc.version);
  const members = cc.spec.members.filter((m) => m.vars.pg_state !== 'absent');
  const suspects = findSuspects(
    members.map((m) => ({ host: m.host, parameters: m.vars.pg_parameters })),
    settings,
  );
  if (suspects.length) {
    const verdicts = await postgresVerdicts(
      ctx,
      cc.version,
      suspects.map((s) => ({ name: s.name, value: s.value })),
    );
    const confirmed = suspects.flatMap((suspect, i) => (verdicts[i] !== undefined ? [{ suspect, pgError: verdicts[i] }] : []));
    if (confirmed.length) {
      const errors = parameterErrors(
        confirmed,
        settings,
        members.map((m) => m.host),
      );
      throw new Error(`${errors.join('\n')}\nno configuration file was written`);
    }
  }
  if (ctx.check && fromServer) {
    const predicted = restartChanges(nextConf, settings);
    if (predicted.length) notePendingRestart(cc, ctx.host, { predicted });
  }
}

/**
 * The content of the config files this run replaced on a host: put back when PostgreSQL rejects the
 * new ones, or when a restart with them fails. `accepted` once pg_file_settings had nothing against them.
 */
const previous = new WeakMap<HostContext, { files: { spec: FileSpec; content: string }[]; accepted: boolean }>();

/**
 * An action that keeps, for this run, the files about to be replaced (their content read by the plan),
 * so they can be put back.
 */
function rememberPrevious(differing: FileSpec[], contents: Map<string, string>): Action {
  const files = differing.flatMap((spec) => (contents.has(spec.path) ? [{ spec, content: contents.get(spec.path)! }] : []));
  return call(`remember the ${files.length} replaced file(s), to put them back if PostgreSQL rejects the new ones`, async (ctx) => {
    previous.set(ctx, { files, accepted: false });
  });
}

/**
 * Puts back the files this run replaced on the host; false when there is nothing to put back.
 * `evenIfAccepted`: also after PostgreSQL accepted them (a restart with them failed).
 */
export async function restorePreviousConfig(ctx: HostContext, evenIfAccepted = false): Promise<boolean> {
  const saved = previous.get(ctx);
  if (!saved?.files.length || (saved.accepted && !evenIfAccepted)) return false;
  await ctx.putFiles(
    saved.files.map(({ spec, content }) => ({ path: spec.path, content, options: { owner: spec.owner, group: spec.group, mode: spec.mode ?? '0644' } })),
  );
  previous.delete(ctx);
  return true;
}

/** Whether PostgreSQL accepted the files this run wrote on the host (nothing to judge again before a reload). */
export function configAccepted(ctx: HostContext): boolean {
  return previous.get(ctx)?.accepted ?? false;
}

/**
 * Throws, after putting the previous files back, when PostgreSQL cannot apply the files now on disk.
 * pg_file_settings parses them when queried, so this runs right after writing, before any reload:
 * the server never loads a rejected file. A changed restart-only setting also reads "setting could not be applied" there;
 * PostgreSQL's parser (postgres -C) tells it from a bad value and gives the real message.
 */
export async function ensureConfigAccepted(cc: ClusterContext, ctx: HostContext): Promise<void> {
  const errors = await fileSettingErrors(ctx, cc.spec.port);
  const accept = () => {
    const saved = previous.get(ctx);
    if (saved) saved.accepted = true;
  };
  if (!errors.length) return accept();
  const named = errors.filter((e) => e.name);
  const verdicts = await postgresVerdicts(
    ctx,
    cc.version,
    named.map((e) => ({ name: e.name, value: e.value })),
  );
  const rejected = errors.flatMap((e) => {
    const verdict = e.name ? verdicts[named.indexOf(e)] : undefined;
    const waitsForRestart = e.name && verdict === undefined && e.context === 'postmaster' && e.error === 'setting could not be applied';
    return waitsForRestart ? [] : [`${e.file} line ${e.line}: ${e.name ? `${e.name} = '${e.value}': ` : ''}${verdict ?? e.error}`];
  });
  if (!rejected.length) return accept();
  const restored = await restorePreviousConfig(ctx);
  throw new Error(
    `PostgreSQL rejects the new configuration: ${rejected.join('; ')}; ` +
      (restored
        ? 'the previous files were put back and PostgreSQL runs on with them; nothing else was changed'
        : 'PostgreSQL was not reloaded and runs on with what it loaded before') +
      '; fix pg_parameters and run again',
  );
}

/** Wraps a step so that, when it changes something, it notifies a handler on the host (in check mode too). */
export function notifying(s: Step, handler: string): Step {
  return step(s.name, async (view) => {
    const plan = await s.plan(view);
    return plan.kind === 'change' ? { ...plan, actions: [...plan.actions, notify(handler)] } : plan;
  });
}
