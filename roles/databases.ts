import { memberOf, type ClusterContext } from '../src/cluster/cluster-context.js';
import type { DatabaseSpec, GrantSpec } from '../src/cluster/pg-vars-schema.js';
import { sqlAction } from '../src/engine/action.js';
import { change, ok, skip, step, type Step } from '../src/engine/step.js';
import { ident, lit, query } from '../src/steps/postgres.js';
import { inList, newShared, nothingThere, uniq, usersSqlAction, type Shared, type UsersOptions } from './users-sql.js';

/*
 * pg_databases on the primary: each database created (owner, encoding, locale; CONNECT only for its
 * owner and the roles granted) or given its owner; then per database its extensions and grants, or the
 * drop of an absent one that holds nothing. The users it names are roles/users.ts's.
 */

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
