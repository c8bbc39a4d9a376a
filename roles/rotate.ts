import { memberOf, type ClusterContext } from '../src/cluster/cluster-context.js';
import { ADMIN_USER, REPLICATION_USER } from '../src/cluster/credentials.js';
import { and, raw } from '../src/connection/shell.js';
import { call, putAction, runAction, sqlAction } from '../src/engine/action.js';
import type { HostContext } from '../src/engine/host-context.js';
import { change, ok, step, type Step } from '../src/engine/step.js';
import { pgSession } from '../src/steps/pg-client.js';
import { ident, lit } from '../src/steps/postgres.js';
import { configFiles } from './config.js';
import { PGBOUNCER_USERLIST, userlist } from './pgbouncer.js';

/*
 * The steps of `pgtasks rotate-passwords` (tasks/rotate-passwords.ts), and the order they run in.
 *
 * 1. Each new password is kept locally in <file>.next (0600) before anything else: a run killed from
 *    here on never loses it (src/cluster/rotation.ts settles a .next from what the primary holds).
 * 2. ONE transaction on the primary sets every rotated role's new scram verifier (ALTER ROLE ...
 *    PASSWORD). Sessions already logged in are never disconnected by PostgreSQL: a walreceiver that
 *    streams keeps streaming, a pooled server connection of PgBouncer keeps serving its clients.
 * 3. Right after the commit, all at once (one exec per host, every host in parallel):
 *    - the replication password into every member's pgpass (primary_conninfo's passfile, read only
 *      when a walreceiver (re)connects: no reload);
 *    - the new verifiers into every running PgBouncer's userlist, and SIGHUP; then one login through
 *      that PgBouncer with each new password (see refreshBouncerKeys);
 *    - locally, <file>.next renamed over <file> (pgtasks' own logins use it from now on).
 *
 * Why this order. Only ONE password works at a time: PostgreSQL stores one verifier per role, libpq
 * takes the FIRST matching pgpass line (a second line is never tried), PgBouncer's userlist holds one
 * verifier per user. So some window where the two sides disagree is unavoidable; the order picks the
 * shortest and the most harmless one. Before the commit nothing outside this machine has the new
 * password (a killed run changes nothing anyone uses). The window between the commit and step 3 is a
 * few milliseconds (one SSH exec per host; the task measures and reports it), and nothing fails in it
 * unless something (re)connects during it: a walreceiver that reconnects right then fails once and
 * retries after wal_retrieve_retry_interval (5 s by default) with the new pgpass; a client of
 * PgBouncer logging in with the OLD password is still let in by PgBouncer (old userlist) and served by
 * pooled server connections. Writing pgpass first instead would open the same window the other way
 * round (new pgpass, old verifier) and, if the ALTER ROLE then failed, leave replicas with a password
 * PostgreSQL never had: ALTER first.
 */

/** A role getting a new password in this run. */
export interface Rotation {
  role: string;
  /** The password file it is kept in (credentials folder). */
  file: string;
  password: string;
  /** Its scram verifier, computed here: PostgreSQL stores it as given, PgBouncer's userlist gets the same. */
  verifier: string;
}

/** PgBouncer authenticates these (the replication role never logs in through it). */
export const throughPgbouncer = (r: Rotation[]) => r.filter((x) => x.role !== REPLICATION_USER);

/**
 * The rotation's one transaction on the primary. Committed as any commit (synchronous replicas
 * included), so a failover right after it finds the new verifiers on the new primary. Shown masked.
 */
export function alterRolesStep(cc: ClusterContext, rotations: Rotation[]): Step {
  return step('rotate: ALTER ROLE', async () => {
    if (!rotations.length) return ok('nothing to rotate');
    const lines = rotations.map((r) => `ALTER ROLE ${ident(r.role)} PASSWORD ${lit(r.verifier)}`);
    const sql = `BEGIN;\n${lines.join(';\n')};\nCOMMIT;`;
    const shown = sql.replace(/PASSWORD '[^']*'/g, "PASSWORD '********'");
    return change(`new password for ${rotations.map((r) => r.role).join(', ')}`, [sqlAction(cc.spec.port, sql, 'postgres', shown)]);
  });
}

/** The member's pgpass with the new replication password: the same file configure-cluster writes from the credentials. */
export function pgpassStep(cc: ClusterContext, host: string, replication: Rotation): Step {
  return step('rotate: pgpass', async () => {
    const file = configFiles({ ...cc, creds: { ...cc.creds, replicator: replication.password } }, host).find((f) => f.path.endsWith('/pgpass'))!;
    return change(`new ${REPLICATION_USER} password in ${file.path}`, [putAction(file)]);
  });
}

/** The userlist PgBouncer gets: every login role as the primary stores it, with the rotated verifiers. */
export function rotatedUserlist(roles: { name: string; verifier: string }[], rotations: Rotation[]): string {
  const byName = new Map(roles.map((r) => [r.name, r.verifier]));
  // Every rotated role, the replication role too: the userlist lists every login role, as configure-cluster writes it.
  for (const r of rotations) byName.set(r.role, r.verifier);
  return userlist([...byName].map(([name, verifier]) => ({ name, verifier })).sort((a, b) => (a.name < b.name ? -1 : 1)));
}

/**
 * PgBouncer's userlist with the new verifiers, reloaded (SIGHUP, never to a stale pid file's process),
 * then the keys refreshed. In one step, so the three follow each other without a gap.
 */
export function userlistStep(cc: ClusterContext, host: string, content: string, rotations: Rotation[]): Step {
  const users = throughPgbouncer(rotations);
  return step('rotate: PgBouncer userlist', async () => {
    if (!rotations.length) return ok('nothing rotated');
    const logins = users.map((r) => r.role).join(', ');
    return change(`new verifier for ${rotations.map((r) => r.role).join(', ')}, reload${logins ? ', log in once with the new password' : ''}`, [
      putAction({ path: PGBOUNCER_USERLIST, owner: 'postgres', group: 'postgres', mode: '0640', secret: true, content }),
      runAction(and(raw('p=$(cat /var/run/postgresql/pgbouncer.pid)'), raw('[ "$(cat /proc/$p/comm)" = pgbouncer ]'), raw('kill -HUP "$p"'))),
      ...(users.length
        ? [
            call(`log in through PgBouncer as ${logins} with the new password (PgBouncer then logs in to PostgreSQL with the new keys)`, (ctx) =>
              refreshBouncerKeys(ctx, memberOf(cc, host).vars.pg_pgbouncer_port, users),
            ),
          ]
        : []),
    ]);
  });
}

/**
 * PgBouncer (1.18, checked in its source: client.c, scram.c) opens server connections for a user with
 * the SCRAM keys of the LAST client that logged in as that user, not with the userlist's verifier. After
 * a reload those keys are still the old password's until someone logs in with the new one, and every
 * new server connection for that user (a pool growing, one replaced after server_lifetime) fails,
 * stalling the user's clients whose sessions are already open. One login with the new password right
 * after the reload puts the new keys in place. A login right after SIGHUP may come before PgBouncer
 * read the file (it reloads in its event loop): an authentication failure is retried for 5 s.
 *
 * Measured on the lab (PgBouncer 1.18 with server TLS): a reload recycles EVERY server connection
 * (sbuf.c: with server TLS configured, all pools are tagged dirty on each reload), so a client of a
 * rotated user that is busy right then needs a new server connection within milliseconds, before this
 * login lands; PostgreSQL refuses the stale keys once and PgBouncer retries after server_login_retry
 * (1 s here): that client WAITS about a second, it gets no error (0 failed attempts under load).
 */
export async function refreshBouncerKeys(ctx: HostContext, port: number, users: Rotation[], timeoutMs = 5000): Promise<void> {
  for (const u of users) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const session = await pgSession(ctx, { port, user: u.role, password: u.password, database: 'postgres', timeoutMs: 3000 });
        await session.close();
        break;
      } catch (err) {
        const message = (err as Error).message;
        const refused = /authentication failed|SASL/i.test(message);
        if (!refused || Date.now() > deadline) throw new Error(`PgBouncer on port ${port} does not take ${u.role}'s new password: ${message}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }
}

/** The rotated roles in the order the run reports them: the cluster's own first, then users by name. */
export function rotationOrder(roles: string[]): string[] {
  const rank = (r: string) => (r === REPLICATION_USER ? 0 : r === ADMIN_USER ? 1 : 2);
  return [...roles].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}
