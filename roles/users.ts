import { memberOf, type ClusterContext } from '../src/cluster/cluster-context.js';
import type { DatabaseSpec, GrantSpec, UserSpec } from '../src/cluster/pg-vars-schema.js';
import { scramVerifier, verifierMatches } from '../src/cluster/scram.js';
import { userPassword } from '../src/cluster/user-credentials.js';
import { sqlAction, type SqlAction } from '../src/engine/action.js';
import type { HostView } from '../src/engine/host-view.js';
import type { Run } from '../src/engine/run.js';
import type { Secrets } from '../src/engine/secrets.js';
import { change, ok, skip, step, runSteps, type Step } from '../src/engine/step.js';
import { ident, lit, query } from '../src/steps/postgres.js';

/*
 * pg_users and pg_databases, converged on the primary (replicas follow by WAL). Each step reads what
 * it needs in one read-only query and returns SQL actions; passwords reach PostgreSQL only as scram
 * verifiers computed here, masked wherever the SQL is shown. Order: users (create, alter, memberships),
 * databases (create, owner), each database (extensions, grants; or the drop of an empty absent one),
 * then the users to drop (their objects reassigned first when the inventory says where they go).
 * Nothing that would lose data is done: a user owning objects, a database holding tables, are refused.
 */

export interface UsersOptions {
  /** Password per present login user (from its password_file or the credentials folder). */
  passwords: Map<string, string>;
  /** The run's secrets: each verifier computed is registered, so an error echoing the SQL shows none. */
  secrets?: Secrets;
  /** A refusal (the run exits 1): what would lose data, with what it would lose. */
  refuse: (text: string) => void;
}

/** What the steps of one run learn from each other: the later ones plan after the earlier ones' SQL ran (or, in --check, would have). */
export interface Shared {
  /** Databases there are (or, in --check, would be) at the databases step's end. */
  databases: Set<string>;
  /** Created by this run: in --check they are not there to be asked. */
  creating: Set<string>;
  /** Roles this run creates (in --check, not there yet). */
  creatingRoles: Set<string>;
}

const PASSWORD_LITERAL = /PASSWORD '[^']*'/g;
const masked = (sql: string) => sql.replace(PASSWORD_LITERAL, "PASSWORD '********'");

/** Statements in one transaction, committed locally: a sync replica not built yet must not hold them up. */
export function transactionSql(lines: string[]): string {
  return `BEGIN;\nSET LOCAL synchronous_commit = local;\n${lines.join(';\n')};\nCOMMIT;`;
}

function usersSqlAction(port: number, lines: string[], db = 'postgres'): SqlAction {
  const sql = transactionSql(lines);
  return sqlAction(port, sql, db, sql.includes("PASSWORD '") ? masked(sql) : undefined);
}

const inList = (names: string[]) => names.map(lit).join(', ');
const uniq = <T>(xs: T[]) => [...new Set(xs)];

/** A fresh cluster in --check: nothing to ask, everything is to be made. */
const nothingThere = (cc: ClusterContext, view: HostView) => view.check && cc.plan.primaryAction === 'bootstrap';

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

/** Databases: created (owner, encoding, locale; connections only for its owner and granted roles) or given their owner. */
export function databasesStep(cc: ClusterContext, shared: Shared = newShared()): Step {
  const dbs = memberOf(cc, cc.plan.primary.host).vars.pg_databases;
  return step('databases', async (view) => {
    if (!dbs.length) return skip('no databases in pg_databases');
    const owners = uniq(dbs.filter((d) => d.state === 'present').map((d) => d.owner));
    const rows = nothingThere(cc, view)
      ? []
      : await query(
          view,
          cc.spec.port,
          `select 'db', datname, pg_get_userbyid(datdba), pg_encoding_to_char(encoding), datcollate from pg_database where datname in (${inList(dbs.map((d) => d.name))})
union all select 'role', rolname, '', '', '' from pg_roles where rolname in (${inList(owners)})`,
        );
    const there = new Map(rows.filter((r) => r[0] === 'db').map((r) => [r[1]!, { owner: r[2]!, encoding: r[3]!, collate: r[4]! }]));
    const roles = new Set([...rows.filter((r) => r[0] === 'role').map((r) => r[1]!), ...shared.creatingRoles]);
    for (const name of there.keys()) shared.databases.add(name);
    const sql: string[] = [];
    const what: string[] = [];
    for (const d of dbs.filter((x) => x.state === 'present')) {
      if (!roles.has(d.owner)) throw new Error(`pg_databases: ${d.name}: its owner ${d.owner} is not a role (add it to pg_users)`);
      const have = there.get(d.name);
      if (!have) {
        sql.push(
          `CREATE DATABASE ${ident(d.name)} OWNER ${ident(d.owner)} ENCODING ${lit(d.encoding)} LC_COLLATE ${lit(d.locale)} LC_CTYPE ${lit(d.locale)} TEMPLATE template0`,
          `REVOKE CONNECT ON DATABASE ${ident(d.name)} FROM PUBLIC`,
        );
        what.push(`create ${d.name}`);
        shared.databases.add(d.name);
        shared.creating.add(d.name);
        continue;
      }
      if (have.owner !== d.owner) {
        sql.push(`ALTER DATABASE ${ident(d.name)} OWNER TO ${ident(d.owner)}`);
        what.push(`${d.name}: owner ${have.owner} -> ${d.owner}`);
      }
      // Fixed when the database was made: said, never "fixed" (that would mean a dump and restore).
      if (have.encoding.toUpperCase() !== d.encoding.toUpperCase() || have.collate !== d.locale)
        view.message(
          `database ${d.name} has encoding ${have.encoding} and locale ${have.collate}, pg_databases says ${d.encoding} and ${d.locale}: they cannot change in place`,
        );
    }
    if (!sql.length) return ok(`${dbs.length} database${dbs.length === 1 ? '' : 's'} as wanted`);
    // CREATE DATABASE cannot run in a transaction: one statement at a time, committed locally.
    return change(what.join(', '), [sqlAction(cc.spec.port, `SET synchronous_commit = local;\n${sql.join(';\n')};`)]);
  });
}

const LEVELS = ['connect', 'usage', 'read', 'write'] as const;
const atLeast = (g: GrantSpec, level: (typeof LEVELS)[number]) => LEVELS.indexOf(g.privileges) >= LEVELS.indexOf(level);

/** Per grant: what the role can do now (the has_*_privilege functions: PUBLIC and memberships count) and its default privileges. */
export function grantsQuery(d: DatabaseSpec): string {
  const values = d.grants.map((g) => `(${lit(g.role)}, ${lit(g.schema)})`).join(', ');
  const tables = (kinds: string, privs: string[]) =>
    `(n.oid is not null and not exists (select 1 from pg_class c where c.relnamespace = n.oid and c.relkind in (${kinds}) and not (${privs.map((p) => `has_table_privilege(r.oid, c.oid, '${p}')`).join(' and ')})))::text`;
  return `select 'ext', extname, '', '', '', '', '', '', '' from pg_extension${
    d.grants.length
      ? `
union all
select 'grant', g.role, g.schema,
  has_database_privilege(r.oid, current_database(), 'CONNECT')::text,
  coalesce(has_schema_privilege(r.oid, n.oid, 'USAGE'), false)::text,
  ${tables(`'r', 'p', 'v', 'm', 'f'`, ['SELECT'])},
  ${tables(`'r', 'p'`, ['INSERT', 'UPDATE', 'DELETE'])},
  (n.oid is not null and not exists (select 1 from pg_class c where c.relnamespace = n.oid and c.relkind = 'S' and not (has_sequence_privilege(r.oid, c.oid, 'USAGE') and has_sequence_privilege(r.oid, c.oid, 'UPDATE'))))::text,
  (n.oid is not null)::text || ':' || coalesce((select string_agg(a.objtype || a.privilege_type, ',') from (select d.defaclobjtype::text as objtype, x.privilege_type from pg_default_acl d cross join aclexplode(d.defaclacl) x where d.defaclrole = (select oid from pg_roles where rolname = ${lit(d.owner)}) and d.defaclnamespace = n.oid and x.grantee = r.oid) a), '')
from (values ${values}) as g(role, schema)
join pg_roles r on r.rolname = g.role
left join pg_namespace n on n.nspname = g.schema`
      : ''
  }`;
}

interface GrantState {
  connect: boolean;
  usage: boolean;
  tablesRead: boolean;
  tablesWrite: boolean;
  sequencesWrite: boolean;
  schemaExists: boolean;
  defaults: Set<string>;
}

const NOTHING: GrantState = {
  connect: false,
  usage: false,
  tablesRead: false,
  tablesWrite: false,
  sequencesWrite: false,
  schemaExists: true,
  defaults: new Set(),
};

/** The SQL a grant still needs, from what the role can do now. */
export function grantSql(d: DatabaseSpec, g: GrantSpec, s: GrantState): string[] {
  const [db, schema, role, owner] = [ident(d.name), ident(g.schema), ident(g.role), ident(d.owner)];
  const sql: string[] = [];
  if (!s.connect) sql.push(`GRANT CONNECT ON DATABASE ${db} TO ${role}`);
  if (!atLeast(g, 'usage') || !s.schemaExists) return sql;
  if (!s.usage) sql.push(`GRANT USAGE ON SCHEMA ${schema} TO ${role}`);
  const defaults = (objtype: string, privs: string[], on: string) => {
    if (privs.every((p) => s.defaults.has(`${objtype}${p}`))) return;
    sql.push(`ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA ${schema} GRANT ${privs.join(', ')} ON ${on} TO ${role}`);
  };
  if (atLeast(g, 'read')) {
    if (!s.tablesRead) sql.push(`GRANT SELECT ON ALL TABLES IN SCHEMA ${schema} TO ${role}`);
    if (!atLeast(g, 'write')) defaults('r', ['SELECT'], 'TABLES');
  }
  if (atLeast(g, 'write')) {
    if (!s.tablesWrite) sql.push(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${schema} TO ${role}`);
    if (!s.sequencesWrite) sql.push(`GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA ${schema} TO ${role}`);
    defaults('r', ['SELECT', 'INSERT', 'UPDATE', 'DELETE'], 'TABLES');
    defaults('S', ['USAGE', 'SELECT', 'UPDATE'], 'SEQUENCES');
  }
  return sql;
}

function parseGrant(r: string[]): GrantState {
  const last = r[8] ?? '';
  const [exists, defaults] = [last.slice(0, last.indexOf(':')), last.slice(last.indexOf(':') + 1)];
  return {
    connect: r[3] === 'true',
    usage: r[4] === 'true',
    tablesRead: r[5] === 'true',
    tablesWrite: r[6] === 'true',
    sequencesWrite: r[7] === 'true',
    schemaExists: exists === 'true',
    defaults: new Set(defaults.split(',').filter(Boolean)),
  };
}

/** One present database: its extensions created, its grants given (with default privileges for tables its owner makes later). */
export function databaseStep(cc: ClusterContext, d: DatabaseSpec, shared: Shared = newShared()): Step {
  return step(`database ${d.name}`, async (view) => {
    const fresh = nothingThere(cc, view) || (view.check && shared.creating.has(d.name));
    const rows = fresh ? [] : await query(view, cc.spec.port, grantsQuery(d), d.name);
    const extensions = new Set(rows.filter((r) => r[0] === 'ext').map((r) => r[1]!));
    const grants = new Map(rows.filter((r) => r[0] === 'grant').map((r) => [`${r[1]}\t${r[2]}`, parseGrant(r)]));
    const sql: string[] = [];
    const what: string[] = [];
    for (const e of d.extensions.filter((x) => !extensions.has(x))) {
      sql.push(`CREATE EXTENSION IF NOT EXISTS ${ident(e)}`);
      what.push(`create extension ${e}`);
    }
    for (const g of d.grants.filter((x) => x.role !== d.owner)) {
      let state = grants.get(`${g.role}\t${g.schema}`);
      if (!state) {
        if (!fresh && !(view.check && shared.creatingRoles.has(g.role)))
          throw new Error(`pg_databases: ${d.name} grants ${g.privileges} to ${g.role}: no such role`);
        state = NOTHING;
      }
      if (!state.schemaExists && atLeast(g, 'usage'))
        view.message(`database ${d.name}: schema ${g.schema} does not exist: ${g.privileges} for ${g.role} is given once it does (a later run)`);
      const lines = grantSql(d, g, state);
      if (lines.length) {
        sql.push(...lines);
        what.push(`grant ${g.privileges} on ${g.schema} to ${g.role}`);
      }
    }
    if (!sql.length) return ok(`${d.extensions.length} extension(s), ${d.grants.length} grant(s) as wanted`);
    return change(what.join(', '), [usersSqlAction(cc.spec.port, sql, d.name)]);
  });
}

/** The user objects of a database (tables, views, sequences...), at most `limit` named. */
export const userObjectsQuery = (limit: number) =>
  `select n.nspname || '.' || c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r', 'p', 'm', 'v', 'S', 'f') and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_(toast|temp)'
order by 1 limit ${limit}`;

/** An absent database: dropped when it holds no table, view or sequence; refused (with what it holds) otherwise. */
export function dropDatabaseStep(cc: ClusterContext, d: DatabaseSpec, o: Pick<UsersOptions, 'refuse'>, shared: Shared = newShared()): Step {
  return step(`database ${d.name}`, async (view) => {
    if (nothingThere(cc, view) || !shared.databases.has(d.name)) return ok('absent');
    const held = await query(view, cc.spec.port, userObjectsQuery(6), d.name);
    if (held.length) {
      const names = held.slice(0, 5).map((r) => r[0]);
      o.refuse(`database ${d.name} is not dropped: it holds ${names.join(', ')}${held.length > 5 ? ' and more' : ''}; drop them first, or keep the database`);
      return skip('refused: it holds tables');
    }
    // Empty of user objects: the sessions still on it (PgBouncer's pooled ones) are closed with it.
    const force = cc.version >= 13 ? ' WITH (FORCE)' : '';
    return change(`drop ${d.name} (empty)`, [sqlAction(cc.spec.port, `DROP DATABASE ${ident(d.name)}${force};`)]);
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

export function newShared(): Shared {
  return { databases: new Set(), creating: new Set(), creatingRoles: new Set() };
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
