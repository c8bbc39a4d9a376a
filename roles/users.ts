import { memberOf, type ClusterContext } from '../src/cluster/cluster-context.js';
import type { UserSpec } from '../src/cluster/pg-vars-schema.js';
import { scramVerifier, verifierMatches } from '../src/cluster/scram.js';
import { userPassword } from '../src/cluster/user-credentials.js';
import { sqlAction, type SqlAction } from '../src/engine/action.js';
import type { Run } from '../src/engine/run.js';
import type { Secrets } from '../src/engine/secrets.js';
import { change, ok, skip, step, runSteps, type Step } from '../src/engine/step.js';
import { databaseStep, databasesStep, dropDatabaseStep } from './databases.js';
import { inList, newShared, nothingThere, transactionSql, uniq, usersSqlAction, type Shared, type UsersOptions } from './users-sql.js';

export { transactionSql, newShared, type Shared, type UsersOptions } from './users-sql.js';
export { databaseStep, databasesStep, dropDatabaseStep, grantSql, grantsQuery, userObjectsQuery } from './databases.js';
import { ident, lit, query } from '../src/steps/postgres.js';

/*
 * pg_users and pg_databases, converged on the primary (replicas follow by WAL). Each step reads what
 * it needs in one read-only query and returns SQL actions; passwords reach PostgreSQL only as scram
 * verifiers computed here, masked wherever the SQL is shown. Order: users (create, alter, memberships),
 * databases (create, owner), each database (extensions, grants; or the drop of an empty absent one),
 * then the users to drop (their objects reassigned first when the inventory says where they go).
 * Nothing that would lose data is done: a user owning objects, a database holding tables, are refused.
 */

function verifierFor(password: string, secrets?: Secrets): string {
  const v = scramVerifier(password);
  secrets?.register(v);
  return v;
}

export interface RoleRow {
  name: string;
  login: boolean;
  connectionLimit: number;
  verifier: string;
  memberOf: string[];
}

/** One query: the roles named, their attributes, verifier and memberships. */
export function rolesQuery(names: string[]): string {
  return `select r.rolname, r.rolcanlogin::text, r.rolconnlimit::text, coalesce(r.rolpassword, ''),
  coalesce((select string_agg(g.rolname, ',' order by g.rolname) from pg_auth_members m join pg_roles g on g.oid = m.roleid where m.member = r.oid), '')
from pg_authid r where r.rolname in (${inList(names)})`;
}

export function parseRoles(rows: string[][]): Map<string, RoleRow> {
  return new Map(
    rows.map((r) => [
      r[0]!,
      { name: r[0]!, login: r[1] === 'true', connectionLimit: Number(r[2]), verifier: r[3] ?? '', memberOf: (r[4] ?? '').split(',').filter(Boolean) },
    ]),
  );
}

/** The SQL that makes one user what is wanted (attributes, password, memberships), and what it says. */
export function userChanges(
  u: Pick<UserSpec, 'name' | 'login' | 'connection_limit' | 'member_of'>,
  have: RoleRow | undefined,
  password: string | undefined,
  managedGroups: Set<string>,
  secrets?: Secrets,
): { sql: string[]; what: string[] } {
  const sql: string[] = [];
  const what: string[] = [];
  const attrs = `${u.login ? 'LOGIN' : 'NOLOGIN'} CONNECTION LIMIT ${u.connection_limit}`;
  const passwordWanted = u.login && password !== undefined && !(have && verifierMatches(have.verifier, password));
  if (!have) {
    sql.push(`CREATE ROLE ${ident(u.name)} ${attrs}${passwordWanted ? ` PASSWORD ${lit(verifierFor(password, secrets))}` : ''}`);
    what.push(`create ${u.name}`);
  } else {
    if (have.login !== u.login || have.connectionLimit !== u.connection_limit) {
      sql.push(`ALTER ROLE ${ident(u.name)} ${attrs}`);
      what.push(`${u.name}: ${attrs.toLowerCase()}`);
    }
    if (passwordWanted) {
      sql.push(`ALTER ROLE ${ident(u.name)} PASSWORD ${lit(verifierFor(password, secrets))}`);
      what.push(`set ${u.name} password`);
    }
  }
  const current = new Set(have?.memberOf ?? []);
  for (const g of u.member_of.filter((x) => !current.has(x))) {
    sql.push(`GRANT ${ident(g)} TO ${ident(u.name)}`);
    what.push(`grant ${g} to ${u.name}`);
  }
  // Memberships in groups pg_users defines are the inventory's to give and take; others (pg_monitor granted by hand) stay.
  for (const g of [...current].filter((x) => managedGroups.has(x) && !u.member_of.includes(x))) {
    sql.push(`REVOKE ${ident(g)} FROM ${ident(u.name)}`);
    what.push(`revoke ${g} from ${u.name}`);
  }
  return { sql, what };
}

/** Present users: created or altered (attributes, password as a verifier, memberships), in one transaction. */
export function usersStep(cc: ClusterContext, o: UsersOptions, shared: Shared = newShared()): Step {
  const users = memberOf(cc, cc.plan.primary.host).vars.pg_users.filter((u) => u.state === 'present');
  return step('users', async (view) => {
    if (!users.length) return skip('no users in pg_users');
    const groups = uniq(users.flatMap((u) => u.member_of));
    const names = uniq([...users.map((u) => u.name), ...groups]);
    const have = nothingThere(cc, view) ? new Map<string, RoleRow>() : parseRoles(await query(view, cc.spec.port, rolesQuery(names)));
    const made = new Set(users.map((u) => u.name));
    const missing = groups.filter((g) => !have.has(g) && !made.has(g));
    if (missing.length) throw new Error(`pg_users: member_of ${missing.join(', ')}: no such role (add it to pg_users, with login: false for a group)`);
    const sql: string[] = [];
    const what: string[] = [];
    const grants: string[] = [];
    for (const u of users) {
      if (!have.has(u.name)) shared.creatingRoles.add(u.name);
      const c = userChanges(u, have.get(u.name), o.passwords.get(u.name), made, o.secrets);
      // Roles first, memberships after: a group made in this run exists before anyone joins it.
      for (const line of c.sql) (line.startsWith('GRANT') || line.startsWith('REVOKE') ? grants : sql).push(line);
      what.push(...c.what);
    }
    if (!sql.length && !grants.length) return ok(`${users.length} user${users.length === 1 ? '' : 's'} up to date`);
    return change(what.join(', '), [usersSqlAction(cc.spec.port, [...sql, ...grants])]);
  });
}

export interface Owned {
  /** Databases the role owns. */
  databases: string[];
  /** Per database: objects it owns, by catalog ("pg_class": 3). */
  objects: Map<string, Map<string, number>>;
  /** Databases where something depends on it (owned objects or privileges): where REASSIGN/DROP OWNED run. */
  dependsIn: Set<string>;
}

/** One query for the roles named: which exist, and per database what they own and where privileges name them. */
export function ownedQuery(names: string[], alsoExisting: string[] = []): string {
  return `select 'role', rolname, '', '', '', '' from pg_roles where rolname in (${inList(uniq([...names, ...alsoExisting]))})
union all
select 'dep', r.rolname, coalesce(d.datname, ''), s.classid::regclass::text, s.deptype::text, count(*)::text
from pg_shdepend s join pg_roles r on r.oid = s.refobjid and s.refclassid = 'pg_authid'::regclass left join pg_database d on d.oid = s.dbid
where r.rolname in (${inList(names)}) and s.classid <> 'pg_database'::regclass
group by r.rolname, d.datname, s.classid, s.deptype
union all
select 'owndb', r.rolname, d.datname, '', '', '' from pg_database d join pg_roles r on r.oid = d.datdba where r.rolname in (${inList(names)})`;
}

export function parseOwned(rows: string[][]): { roles: Set<string>; owned: Map<string, Owned> } {
  const roles = new Set(rows.filter((r) => r[0] === 'role').map((r) => r[1]!));
  const owned = new Map<string, Owned>();
  const of = (name: string) => {
    let o = owned.get(name);
    if (!o) owned.set(name, (o = { databases: [], objects: new Map(), dependsIn: new Set() }));
    return o;
  };
  for (const r of rows) {
    if (r[0] === 'owndb') {
      of(r[1]!).databases.push(r[2]!);
      of(r[1]!).dependsIn.add('postgres');
    } else if (r[0] === 'dep') {
      const o = of(r[1]!);
      const db = r[2] || 'postgres';
      o.dependsIn.add(db);
      if (r[4] !== 'o') continue;
      const byCatalog = o.objects.get(db) ?? new Map<string, number>();
      byCatalog.set(r[3]!, (byCatalog.get(r[3]!) ?? 0) + Number(r[5]));
      o.objects.set(db, byCatalog);
    }
  }
  return { roles, owned };
}

const CATALOG_WORDS: Record<string, string> = {
  pg_class: 'tables, views or sequences',
  pg_proc: 'functions',
  pg_namespace: 'schemas',
  pg_type: 'types',
  pg_largeobject_metadata: 'large objects',
};

/** "database orders; 3 tables, views or sequences and 1 schemas in database orders", or '' when it owns nothing. */
export function describeOwned(o: Owned | undefined): string {
  if (!o) return '';
  const parts = o.databases.map((d) => `database ${d}`);
  for (const [db, byCatalog] of o.objects)
    parts.push(`${[...byCatalog].map(([cat, n]) => `${n} ${CATALOG_WORDS[cat] ?? cat}`).join(' and ')} in database ${db}`);
  return parts.join('; ');
}

/**
 * The SQL that drops a user: in each database where something depends on it, its objects reassigned
 * (REASSIGN OWNED) then its privileges revoked (DROP OWNED, which then owns nothing to drop); then DROP
 * ROLE. Without `reassignTo`, DROP OWNED runs only behind a check, in its transaction, that the role
 * still owns nothing there: privileges go, never an object.
 */
export function dropUserActions(port: number, name: string, o: Owned | undefined, reassignTo?: string): SqlAction[] {
  const u = ident(name);
  const guard = `DO $$ BEGIN IF EXISTS (select 1 from pg_shdepend s join pg_database d on d.oid = s.dbid where d.datname = current_database() and s.refobjid = (select oid from pg_roles where rolname = ${lit(name)}) and s.deptype = 'o') THEN RAISE EXCEPTION '% owns objects in database %: not dropped', ${lit(name)}, current_database(); END IF; END $$`;
  const perDb = [...(o?.dependsIn ?? [])]
    .sort()
    .map((db) =>
      sqlAction(
        port,
        transactionSql(reassignTo ? [`REASSIGN OWNED BY ${u} TO ${ident(reassignTo)}`, `DROP OWNED BY ${u}`] : [guard, `DROP OWNED BY ${u}`]),
        db,
      ),
    );
  return [...perDb, sqlAction(port, transactionSql([`DROP ROLE ${u}`]))];
}

/** Users with state: absent: dropped, what they own reassigned as reassign_owned_to says; refused when they own objects and it says nothing. */
export function dropUsersStep(cc: ClusterContext, o: Pick<UsersOptions, 'refuse'>, shared: Shared = newShared()): Step {
  const absent = memberOf(cc, cc.plan.primary.host).vars.pg_users.filter((u) => u.state === 'absent');
  return step('users: drop', async (view) => {
    if (!absent.length) return skip('no user with state: absent');
    if (nothingThere(cc, view)) return ok('none to drop');
    const targets = uniq(absent.flatMap((u) => (u.reassign_owned_to ? [u.reassign_owned_to] : [])));
    const { roles, owned } = parseOwned(
      await query(
        view,
        cc.spec.port,
        ownedQuery(
          absent.map((u) => u.name),
          targets,
        ),
      ),
    );
    const actions: SqlAction[] = [];
    const what: string[] = [];
    const refused: string[] = [];
    for (const u of absent.filter((x) => roles.has(x.name))) {
      const owns = describeOwned(owned.get(u.name));
      if (owns && !u.reassign_owned_to) {
        o.refuse(`user ${u.name} is not dropped: it owns ${owns}; set reassign_owned_to in pg_users to give them to another role`);
        refused.push(u.name);
        continue;
      }
      if (u.reassign_owned_to && !roles.has(u.reassign_owned_to) && !shared.creatingRoles.has(u.reassign_owned_to))
        throw new Error(`pg_users: ${u.name}: reassign_owned_to ${u.reassign_owned_to}: no such role`);
      actions.push(...dropUserActions(cc.spec.port, u.name, owned.get(u.name), owns ? u.reassign_owned_to : undefined));
      what.push(owns ? `drop ${u.name} (its objects to ${u.reassign_owned_to})` : `drop ${u.name}`);
    }
    if (!actions.length) return refused.length ? skip(`refused: ${refused.join(', ')} own objects`) : ok('none to drop');
    return change(what.join(', '), actions);
  });
}

/** Everything pg_users and pg_databases ask of the primary, in order. */
export function usersRole(cc: ClusterContext, o: UsersOptions): Step[] {
  const vars = memberOf(cc, cc.plan.primary.host).vars;
  if (!vars.pg_users.length && !vars.pg_databases.length) return [];
  const shared = newShared();
  return [
    usersStep(cc, o, shared),
    databasesStep(cc, shared),
    ...vars.pg_databases.map((d) => (d.state === 'present' ? databaseStep(cc, d, shared) : dropDatabaseStep(cc, d, o, shared))),
    dropUsersStep(cc, o, shared),
  ];
}

/** The present login users' passwords: from their password_file, or the credentials folder (generated once). */
export async function userPasswords(cc: ClusterContext, write: boolean, secrets: Secrets): Promise<Map<string, string>> {
  const users = memberOf(cc, cc.plan.primary.host).vars.pg_users.filter((u) => u.state === 'present' && u.login);
  const out = new Map<string, string>();
  for (const u of users) out.set(u.name, (await userPassword(cc.spec.credentialsDir, cc.spec.name, u, write, secrets)).password);
  return out;
}

type Userlist = { name: string; verifier: string }[];

/**
 * configure-cluster's users phase, on the primary, before PgBouncer's userlist is read: a user made
 * here logs in through PgBouncer right after the run. Returns how the userlist read afterwards is
 * to be seen: as it is, except in --check, where the users this run would make or change are added
 * (so --check says the userlist would change).
 */
export async function convergeUsers(run: Run, cc: ClusterContext): Promise<(roles: Userlist) => Userlist> {
  const vars = memberOf(cc, cc.plan.primary.host).vars;
  const asIs = (roles: Userlist) => roles;
  if (!vars.pg_users.length && !vars.pg_databases.length) return asIs;
  let passwords: Map<string, string>;
  try {
    passwords = await userPasswords(cc, !run.options.check, run.secrets);
  } catch (err) {
    run.refuse(`cluster ${cc.spec.name}: ${(err as Error).message}; users and databases left as they are`);
    return asIs;
  }
  const steps = usersRole(cc, { passwords, secrets: run.secrets, refuse: (text) => run.refuse(`cluster ${cc.spec.name}: ${text}`) });
  await run.onHosts([cc.plan.primary.host], (ctx) => runSteps(ctx, steps).then(() => {}));
  if (!run.options.check) return asIs;
  const absent = new Set(vars.pg_users.filter((u) => u.state === 'absent').map((u) => u.name));
  return (roles) => {
    const byName = new Map(roles.filter((r) => !absent.has(r.name)).map((r) => [r.name, r]));
    for (const [name, password] of passwords)
      if (!verifierMatches(byName.get(name)?.verifier, password)) byName.set(name, { name, verifier: scramVerifier(password) });
    return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  };
}
