import { freshFacts, memberOf, type ClusterContext } from '../src/cluster/cluster-context.js';
import { ADMIN_USER } from '../src/cluster/credentials.js';
import { and, raw, sh } from '../src/connection/shell.js';
import { handled, runAction, type RunAction } from '../src/engine/action.js';
import type { HostContext } from '../src/engine/host-context.js';
import { reads, type HostView } from '../src/engine/host-view.js';
import { change, ok, skip, step, type Step } from '../src/engine/step.js';
import type { Templates } from '../src/engine/templates.js';
import { filesStep, type FileSpec } from '../src/steps/files.js';
import { psql } from '../src/steps/postgres.js';
import { PAUSED_MARKER } from '../src/facts/pgbouncer.js';
import { fact } from '../src/engine/fact.js';
import { systemFact, type SystemFacts } from '../src/facts/system.js';
import type { ClusterSpec } from '../src/cluster/vars.js';
import { notifying } from './config.js';
import { BOUNCER_TLS, bouncerTlsFiles, tlsEnabled } from './tls.js';

export const PGBOUNCER_INI = '/etc/pgbouncer/pgbouncer.ini';
export const PGBOUNCER_USERLIST = '/etc/pgbouncer/userlist.txt';
export const PGBOUNCER_HBA = '/etc/pgbouncer/pg_hba.conf';
const PIDFILE = '/var/run/postgresql/pgbouncer.pid';

/** userlist.txt lines: the exact scram verifiers of pg_authid, so PgBouncer can pass them through. */
export function userlist(roles: { name: string; verifier: string }[]): string {
  return roles.map((r) => `"${r.name.replace(/"/g, '""')}" "${r.verifier}"`).join('\n') + '\n';
}

/** Every login role with a scram password, from the primary's facts while they hold, else one query. */
export async function readUserlist(cc: ClusterContext, primary: HostContext, port: number): Promise<{ name: string; verifier: string }[]> {
  const known = freshFacts(cc, primary.host);
  if (known)
    return known.roles
      .filter((r) => r.verifier.startsWith('SCRAM-SHA-256$'))
      .map((r) => ({ name: r.name, verifier: r.verifier }))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
  const rows = await psql(
    primary,
    port,
    "select rolname, rolpassword from pg_authid where rolcanlogin and rolpassword like 'SCRAM-SHA-256$%' order by rolname",
  );
  return rows.map((r) => ({ name: r[0]!, verifier: r[1]! }));
}

export function pgbouncerFiles(
  spec: ClusterSpec,
  host: string,
  primaryAddress: string,
  roles: { name: string; verifier: string }[],
  templates: Templates,
): FileSpec[] {
  const vars = spec.members.find((m) => m.host === host)!.vars;
  const owned = { owner: 'postgres', group: 'postgres' };
  return [
    {
      path: PGBOUNCER_INI,
      ...owned,
      mode: '0640',
      content: templates.render('pgbouncer.ini.j2', {
        cluster: spec.name,
        host,
        primary_address: primaryAddress,
        port: spec.port,
        listen_addr: '*',
        pgbouncer_port: vars.pg_pgbouncer_port,
        admin_user: ADMIN_USER,
        pool_mode: vars.pg_pgbouncer_pool_mode,
        max_client_conn: 1000,
        default_pool_size: 20,
        tls: tlsEnabled(spec) ? { ...BOUNCER_TLS, hba: PGBOUNCER_HBA } : null,
      }),
    },
    { path: PGBOUNCER_USERLIST, ...owned, mode: '0640', secret: true, content: userlist(roles) },
    // pg_tls: plain text from this host only (pgtasks' admin sessions come over loopback), TLS from elsewhere.
    ...(tlsEnabled(spec)
      ? [{ path: PGBOUNCER_HBA, ...owned, mode: '0640', content: templates.render('pgbouncer_hba.conf.j2', { cluster: spec.name, host }) }]
      : []),
  ];
}

async function pgbouncerRunning(view: HostView): Promise<boolean> {
  const r = await view.read(reads(raw(`p=$(cat ${PIDFILE} 2>/dev/null) && [ "$(cat /proc/$p/comm 2>/dev/null)" = pgbouncer ]`)), { allowFailure: true });
  return r.code === 0;
}

/**
 * RELOAD and RESUME by signal (SIGHUP, SIGUSR2), in one command: no admin login needed, so a PgBouncer
 * whose userlist is stale (or whose state could not be read) is converged all the same. A reload that
 * changes a database's host closes pooled server connections as they are released (checked on 1.18).
 */
function signalBouncer(reload: boolean, resume: boolean): RunAction {
  const signals = [...(reload ? [raw('kill -HUP "$p"')] : []), ...(resume ? [raw('kill -USR2 "$p"'), sh`rm -f ${PAUSED_MARKER}`] : [])];
  // Never a signal to a stale pid file's number (after a power cut it may be sshd's): PgBouncer's or nobody's.
  return runAction(and(sh`p=$(cat ${PIDFILE})`, raw('[ "$(cat /proc/$p/comm)" = pgbouncer ]'), ...signals));
}

/**
 * Starts PgBouncer, or converges what it RUNS to what is wanted: a configuration written but not
 * loaded (a run killed between the two), a route to a former primary, a PAUSE left by a killed
 * switchover. The route is fixed before RESUME, so released clients go to the primary.
 */
export function pgbouncerServiceStep(cc: ClusterContext, host: string): Step {
  const live = cc.bouncers.get(host);
  return step('pgbouncer: service', async (ctx) => {
    const known = ctx.facts.get(systemFact.name) as SystemFacts | undefined;
    if (!live && !known?.pgbouncerRunning && !(await pgbouncerRunning(ctx))) {
      const systemd = cc.systemd.get(host) ?? false;
      const cmd = systemd
        ? raw('systemctl enable --now pgbouncer')
        : and(
            // A PgBouncer killed (or its host powered off) leaves its pidfile; once its pid is another
            // process's, PgBouncer refuses to start ("pidfile exists, another instance running?", in its
            // log only, with -q). None runs (checked above): a pidfile not naming a pgbouncer is stale.
            sh`p=$(cat ${PIDFILE} 2>/dev/null); if [ -n "$p" ] && [ "$(cat /proc/$p/comm 2>/dev/null)" != pgbouncer ]; then rm -f ${PIDFILE}; fi`,
            raw(`install -d -o postgres -g postgres -m 2775 /var/run/postgresql && runuser -u postgres -- /usr/sbin/pgbouncer -d -q ${PGBOUNCER_INI}`),
          );
      // A fresh PgBouncer is not paused, whatever a killed switchover's marker says.
      return change('start PgBouncer', [runAction(and(sh`rm -f ${PAUSED_MARKER}`, cmd)), handled('pgbouncer-reload')]);
    }
    const wanted = cc.plan.primary.address;
    // Unreadable (live.unknown): reload and resume anyway; both are harmless when not needed.
    const misrouted = live !== undefined && (live.unknown !== undefined || (live.host !== undefined && live.host !== wanted));
    const reload = ctx.notified.has('pgbouncer-reload') || misrouted;
    const resume = live?.paused ?? false;
    if (!reload && !resume) return ok('running');
    const what = [
      reload
        ? misrouted
          ? `reload (${live!.unknown ? 'its state could not be read' : `it routes to ${live!.host}`}, the primary is ${wanted})`
          : 'reload'
        : '',
      resume ? 'RESUME (left paused)' : '',
    ].filter(Boolean);
    return change(what.join(', '), [signalBouncer(reload, resume), handled('pgbouncer-reload')]);
  });
}

/**
 * PgBouncer on a member, pointing at the cluster's primary (pg_pgbouncer, default on). The roles
 * come from the primary so clients log in with the same passwords as on PostgreSQL.
 */
export function pgbouncerRole(cc: ClusterContext, host: string, roles: () => { name: string; verifier: string }[]): Step[] {
  const vars = memberOf(cc, host).vars;
  if (!vars.pg_pgbouncer) return [step('pgbouncer', async () => skip('pg_pgbouncer is false'))];
  return [
    step('pgbouncer: install', async (ctx) => {
      if ((await fact(ctx, systemFact)).pgbouncerInstalled) return ok('present');
      return change('apt-get install pgbouncer', [
        runAction(raw('DEBIAN_FRONTEND=noninteractive apt-get install -y -q pgbouncer'), { user: 'root', timeoutMs: 10 * 60_000 }),
      ]);
    }),
    notifying(
      // With pg_tls, its copy of the member's certificate and key too: a new one reloads PgBouncer (SIGHUP re-reads them).
      filesStep('pgbouncer: config', async (view) => [
        ...pgbouncerFiles(cc.spec, host, cc.plan.primary.address, roles(), cc.templates),
        ...(await bouncerTlsFiles(cc.spec, host, view)),
      ]),
      'pgbouncer-reload',
    ),
    pgbouncerServiceStep(cc, host),
  ];
}
