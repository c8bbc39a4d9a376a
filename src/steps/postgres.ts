import { inline, raw, sh, type Command } from '../connection/shell.js';
import type { HostContext } from '../engine/host-context.js';
import { reads, type HostView } from '../engine/host-view.js';

/**
 * psql by its own path (the last major installed, by the shell's glob), not /usr/bin/psql: that is
 * Debian's pg_wrapper, a Perl start of ~20 ms of CPU before every query. `env` is assignments for psql.
 */
const psqlCommand = (port: number, db: string, env: Command = raw('')) =>
  sh`for psql in /usr/lib/postgresql/*/bin/psql; do :; done; [ -x "$psql" ] || psql=psql; ${inline(env)}"$psql" -X -A -t -q -F ${'\t'} -v ON_ERROR_STOP=1 -p ${port} -d ${db} -f -`;

const rowsOf = (stdout: string) =>
  stdout
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => l.split('\t'));

/** Runs SQL (sent on stdin, so values in it never show in a process list) as the postgres OS user. */
export async function psql(ctx: HostContext, port: number, sql: string, db = 'postgres', options: { quiet?: boolean } = {}): Promise<string[][]> {
  const { stdout } = await ctx.run(psqlCommand(port, db), { user: 'postgres', stdin: sql, ...options });
  return rowsOf(stdout);
}

/**
 * A query a plan may run: in a read-only transaction (PGOPTIONS), so PostgreSQL itself refuses any
 * write in it, whatever the SQL says.
 */
export async function query(view: HostView, port: number, sql: string, db = 'postgres'): Promise<string[][]> {
  const command = reads(psqlCommand(port, db, raw("PGOPTIONS='-c default_transaction_read_only=on' ")));
  const { stdout } = await view.read(command, { user: 'postgres', stdin: sql });
  return rowsOf(stdout);
}

/** A SQL string literal. */
export function lit(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** A SQL identifier. */
export function ident(value: string): string {
  return `"${value.replace(/"/g, '""')}"`;
}

export interface PgService {
  version: number;
  cluster: string;
  systemd: boolean;
}

/**
 * Start/stop/reload/restart through Debian's tools: systemctl where systemd runs (so the unit's
 * state stays true), pg_ctlcluster directly elsewhere (containers, the lab).
 */
export function pgServiceCommand(s: PgService, action: 'start' | 'stop' | 'restart' | 'reload', mode?: 'fast' | 'immediate'): Command {
  if (s.systemd && !mode) return sh`systemctl ${action} ${`postgresql@${s.version}-${s.cluster}`}`;
  return mode ? sh`pg_ctlcluster -m ${mode} ${s.version} ${s.cluster} ${action}` : sh`pg_ctlcluster ${s.version} ${s.cluster} ${action}`;
}

/**
 * Exit 0 when the cluster runs. Reads the postmaster's pid file directly: pg_ctlcluster (Perl)
 * would cost more than the rest of a no-op step.
 */
export function pgStatusCommand(s: PgService): Command {
  const pidFile = `/var/lib/postgresql/${s.version}/${s.cluster}/postmaster.pid`;
  // The pid must be a postgres: a stale file's number may belong to any process after a power cut.
  return sh`p=$(head -1 ${pidFile} 2>/dev/null) && [ "$(cat /proc/$p/comm 2>/dev/null)" = postgres ]`;
}

export function pgLogTail(s: PgService): Command {
  return sh`tail -n 20 ${`/var/log/postgresql/postgresql-${s.version}-${s.cluster}.log`} 2>/dev/null`;
}
