import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { DNS_NAME_MESSAGE, HOST_ADDRESS_MESSAGE, isDnsName, isHostAddress, isOneLine, ONE_LINE_MESSAGE } from './address-syntax.js';

/*
 * The pg_* variables. Types are strict, as the inventory states them (no coercion: `pg_port: "5432"`
 * is a mistake, not 5432), because a value silently read another way can turn replication off.
 * Every message here completes "<variable>: ..." in an error naming the file and line.
 */

const must = (what: string) => ({ error: `must be ${what}` });
const BOOL_WORDS = /^(yes|no|true|false|on|off)$/i;

/**
 * Ansible's boolean words, in any case: YAML reads `yes` as true already, but an INI value `true` is
 * the string "true" (Ansible types INI values as Python literals). 1 and 0 are refused: a number
 * where a yes/no is expected is more likely a mistake than a choice.
 */
const bool = z
  .union([z.boolean(), z.string().regex(BOOL_WORDS, must('true or false (yes, no, on, off also do)'))], must('true or false (yes, no, on, off also do)'))
  .transform((v) => (typeof v === 'boolean' ? v : /^(yes|true|on)$/i.test(v)));
const int = (min: number, max: number, what = `an integer from ${min} to ${max}`) => z.int(must(what)).min(min, must(what)).max(max, must(what));
const port = int(1, 65535, 'a port number from 1 to 65535');
const text = z.string(must('a string')).min(1, { error: 'must not be empty' });
const oneOf = <const T extends readonly [string, ...string[]]>(values: T) => z.enum(values, must(`one of ${values.join(', ')}`));
/** Names that reach nsupdate's script, /etc/hosts and configuration files: checked for what they are (address-syntax.ts). */
const dnsName = text.refine(isDnsName, { error: DNS_NAME_MESSAGE });
const hostAddress = text.refine(isHostAddress, { error: HOST_ADDRESS_MESSAGE });
const oneLine = text.refine(isOneLine, { error: ONE_LINE_MESSAGE });
/** A path on this machine: a relative one is relative to the inventory's folder (see resolvePath). */
const localPath = text;

/** pg_hba.conf methods that let anyone in: refused for every rule pgtasks writes. */
const trustWord = /(^|\s)trust(\s|$)/;
const hbaLineRule = oneLine
  .refine((l) => l.trim().split(/\s+/).length >= 4, { error: 'must be a pg_hba.conf line: TYPE DATABASE USER [ADDRESS] METHOD' })
  .refine((l) => !trustWord.test(l), { error: 'trust is never allowed; use scram-sha-256' });
export const hbaRuleObject = z.strictObject({
  type: oneOf(['local', 'host', 'hostssl', 'hostnossl', 'hostgssenc', 'hostnogssenc']).default('host'),
  database: oneLine.default('all'),
  user: oneLine.default('all'),
  address: oneLine.optional(),
  method: oneLine.refine((m) => m !== 'trust', { error: 'trust is never allowed over the network; use scram-sha-256' }),
});
const hbaRule = z.union([hbaLineRule, hbaRuleObject], must('a pg_hba.conf line or a mapping {type, database, user, address, method}'));

export const registryProviders = [
  z.strictObject({
    provider: z.literal('dns'),
    server: hostAddress.default('127.0.0.1'),
    port: port.default(53),
    zone: dnsName,
    key_file: localPath.describe('TSIG key file as nsupdate -k reads it'),
    ttl: int(0, 2147483647, 'a number of seconds, 0 or more').default(5),
    record: oneOf(['A', 'CNAME']).optional(),
  }),
  z.strictObject({
    provider: z.literal('hosts'),
    hosts: text.default('all').describe('Ansible host pattern of the hosts whose /etc/hosts gets the name'),
  }),
  z.strictObject({
    provider: z.literal('command'),
    command: text,
  }),
  z.strictObject({ provider: z.literal('none') }),
] as const;
const registry = z.discriminatedUnion('provider', registryProviders, must('a mapping with a provider: dns, hosts, command or none'));

/** A cron schedule: five fields (minute hour day-of-month month day-of-week), as /etc/cron.d takes it. */
const CRON_FIELD = /^(\*|[0-9]+(-[0-9]+)?)(\/[0-9]+)?(,(\*|[0-9]+(-[0-9]+)?)(\/[0-9]+)?)*$/;
const cron = oneLine.refine(
  (v) =>
    v.trim().split(/\s+/).length === 5 &&
    v
      .trim()
      .split(/\s+/)
      .every((f) => CRON_FIELD.test(f)),
  {
    error: 'must be a cron schedule of five fields, e.g. "0 1 * * 0" (minute hour day month weekday)',
  },
);

/**
 * Backups (issue 9): a repository host (an inventory host that is not a PostgreSQL member), retention
 * and schedules. pgBackRest is the one provider; the discriminated union leaves room for another.
 */
export const backupProviders = [
  z.strictObject({
    provider: z.literal('pgbackrest'),
    repo_host: text.describe('inventory name of the repository host'),
    retention_full: int(1, 9999, 'an integer from 1 to 9999 (full backups kept)').default(2),
    retention_diff: int(1, 9999, 'an integer from 1 to 9999 (differential backups kept)').optional(),
    schedule: z
      .strictObject({ full: cron.optional(), diff: cron.optional(), incr: cron.optional() }, must('a mapping {full, diff, incr} of cron schedules'))
      .default({ full: '0 1 * * 0', diff: '0 1 * * 1-6' }),
    /** Encrypted at rest (aes-256-cbc, a generated key in the credentials folder): on unless said otherwise. */
    encrypt: bool.default(true),
    /** pgBackRest's TLS server port, on members and the repository host. */
    tls_port: port.default(8432),
    /** archive_timeout: the most a lost primary's last archived segment can lag behind (seconds). */
    archive_timeout: int(1, 86400, 'a number of seconds from 1 to 86400').default(60),
  }),
] as const;
const backup = z.discriminatedUnion('provider', backupProviders, must('a mapping with a provider: pgbackrest'));

/**
 * TLS (issue 10): on by default. `true`/`false`, or a mapping; certificate files the inventory names
 * (on this machine, relative to the inventory's folder; `{host}` stands for the member's inventory
 * name) replace the generated ones: all three or none.
 */
export const tlsObject = z
  .strictObject(
    {
      enabled: bool.default(true),
      /** The CA that signed cert_file: replicas, PgBouncer and clients verify the servers with it. */
      ca_file: localPath.optional(),
      cert_file: localPath.optional(),
      key_file: localPath.optional(),
    },
    must('true, false or a mapping {enabled, ca_file, cert_file, key_file}'),
  )
  .superRefine((t, ctx) => {
    const given = (['ca_file', 'cert_file', 'key_file'] as const).filter((k) => t[k] !== undefined);
    if (given.length && given.length < 3)
      for (const k of (['ca_file', 'cert_file', 'key_file'] as const).filter((x) => t[x] === undefined))
        ctx.addIssue({
          code: 'custom',
          path: [k],
          message: `is required with ${given.join(' and ')} (the inventory names all three, or none: pgtasks makes them)`,
        });
    if (given.length && !t.enabled) ctx.addIssue({ code: 'custom', path: [given[0]!], message: 'is for enabled: true' });
  });
const tls = z.preprocess((v) => (typeof v === 'boolean' || typeof v === 'string' ? { enabled: v } : v), tlsObject);

/**
 * Role and database names: what PostgreSQL takes unquoted (lowercase letters, digits, _), at most 63
 * bytes. pgtasks quotes them always (ident()), but a name that needs quoting in the team's own SQL, or
 * that PostgreSQL reserves, is a mistake to catch here rather than in a half-done run.
 */
export const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
const IDENTIFIER_MESSAGE = 'must be lowercase letters, digits and _, starting with a letter or _ (at most 63)';
/** Names PostgreSQL refuses for a role even quoted, and pgtasks' own roles (managed by it, never through pg_users). */
const RESERVED_ROLES = ['public', 'none', 'current_user', 'session_user', 'current_role', 'postgres', 'admin', 'replicator'];
const identifier = z.string(must('a string')).regex(IDENTIFIER, { error: IDENTIFIER_MESSAGE });
/** A role pg_users defines: not reserved, not pg_* (PostgreSQL's predefined roles). */
export const userName = identifier
  .refine((n) => !n.startsWith('pg_'), { error: 'role names starting with pg_ are reserved by PostgreSQL' })
  .refine((n) => !RESERVED_ROLES.includes(n), { error: 'is reserved (PostgreSQL or pgtasks own it)' });
/** A role something refers to: a pg_users role or an existing one (pg_read_all_data and the like too), never a pseudo-role. */
export const roleRef = identifier.refine((n) => !RESERVED_ROLES.slice(0, 5).includes(n), { error: 'is not a role PostgreSQL can name here' });
/** A group a user joins: not pgtasks' superuser or replication role (SET ROLE admin would make it a superuser). */
const groupRef = roleRef.refine((n) => !['postgres', 'admin', 'replicator'].includes(n), {
  error: 'is a superuser or replication role: a user may not join it',
});
export const databaseName = identifier.refine((n) => !['postgres', 'template0', 'template1'].includes(n), {
  error: 'is one of PostgreSQL’s own databases (postgres, template0, template1)',
});
const extensionName = z.string(must('a string')).regex(/^[a-z_][a-z0-9_-]{0,62}$/, { error: 'must be an extension name (lowercase letters, digits, _ and -)' });

export const userSchema = z
  .strictObject({
    name: userName,
    login: bool.default(true),
    connection_limit: int(-1, 1000000, 'an integer, -1 (no limit) or more').default(-1),
    member_of: z.array(groupRef, must('a list of role names')).default([]),
    /** A file on this machine holding the password (relative: to the inventory's folder); else one is generated. */
    password_file: localPath.optional(),
    state: oneOf(['present', 'absent']).default('present'),
    /** Who gets what an absent user owns (REASSIGN OWNED); without it, dropping a user that owns objects is refused. */
    reassign_owned_to: roleRef.optional(),
  })
  .superRefine((u, ctx) => {
    if (u.password_file !== undefined && !u.login) ctx.addIssue({ code: 'custom', path: ['password_file'], message: 'is for a role with login: true' });
    if (u.reassign_owned_to === u.name) ctx.addIssue({ code: 'custom', path: ['reassign_owned_to'], message: 'must be another role than the user itself' });
  });

export const grantSchema = z.strictObject({
  role: roleRef,
  /** Cumulative: usage includes connect, read includes usage, write includes read. */
  privileges: oneOf(['connect', 'usage', 'read', 'write']),
  schema: identifier.default('public'),
});

export const databaseSchema = z.strictObject({
  name: databaseName,
  owner: roleRef.default('admin'),
  encoding: text.regex(/^[A-Za-z0-9_]+$/, { error: 'must be an encoding name such as UTF8' }).default('UTF8'),
  locale: text.regex(/^[A-Za-z0-9_.@-]+$/, { error: 'must be a locale name such as C.UTF-8' }).default('C.UTF-8'),
  extensions: z.array(extensionName, must('a list of extension names')).default([]),
  state: oneOf(['present', 'absent']).default('present'),
  grants: z.array(grantSchema, must('a list of grants {role, privileges, schema}')).default([]),
});

/** A list of named entries: each name once. */
const uniqueNames = <T extends { name: string }>(items: T[], ctx: z.RefinementCtx) => {
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    if (seen.has(item.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `${item.name} is listed twice (also at [${seen.get(item.name)}])` });
    else seen.set(item.name, i);
  });
};
const users = z.array(userSchema, must('a list of users {name, login, member_of, ...}')).superRefine(uniqueNames);
const databases = z.array(databaseSchema, must('a list of databases {name, owner, grants, ...}')).superRefine(uniqueNames);

/** A setting name as postgresql.conf takes it; `ext.name` for an extension's own settings. */
const SETTING_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$/;
const parameters = z.record(
  z.string().regex(SETTING_NAME, { error: 'is not a setting name (letters, digits and _, or ext.name)' }),
  z.union([z.string(), z.number(), z.boolean()], must('a string, a number or a boolean')),
  must('a mapping of setting names to values'),
);

/** The pg_* variables of one host, with their defaults (all overridable at any inventory level). */
export const pgVarsSchema = z.object({
  pg_cluster: z.string(must('a string')).regex(/^[a-z0-9][a-z0-9_-]*$/, { error: 'lowercase letters, digits, - and _ only (it names the Debian cluster)' }),
  pg_version: int(10, 99, 'a PostgreSQL major version, an integer such as 16').optional(),
  pg_port: port.default(5432),
  pg_service_name: dnsName.optional(),
  pg_sync_replicas: int(0, 1000, 'an integer, 0 or more').default(0),
  pg_primary: bool.default(false),
  pg_state: oneOf(['present', 'absent']).default('present'),
  pg_parameters: parameters.default({}),
  pg_hba: z.array(hbaRule, must('a list of pg_hba rules')).default([]),
  pg_registry: registry.optional(),
  pg_credentials_dir: localPath.default('./credentials'),
  pg_listen_addresses: text.default('*'),
  pg_pgdg_repo: bool.default(false),
  pg_pgbouncer: bool.default(true),
  pg_pgbouncer_port: port.default(6432),
  pg_pgbouncer_pool_mode: oneOf(['session', 'transaction', 'statement']).default('transaction'),
  pg_backup: backup.optional(),
  /** Where a new replica's data comes from: the primary (pg_basebackup) or the backup repository (then it streams). */
  pg_replica_source: oneOf(['primary', 'backup']).default('primary'),
  /** Users and databases converged on the primary (roles/users.ts); cluster-wide. */
  pg_users: users.default([]),
  pg_databases: databases.default([]),
  /** TLS for every remote connection (roles/tls.ts); cluster-wide. */
  pg_tls: tls.default({ enabled: true }),
});

export type PgVars = z.output<typeof pgVarsSchema>;
export type HbaRule = z.output<typeof hbaRule>;
export type RegistrySpec = z.output<typeof registry>;
export type BackupSpec = z.output<typeof backup>;
export type UserSpec = z.output<typeof userSchema>;
export type DatabaseSpec = z.output<typeof databaseSchema>;
export type GrantSpec = z.output<typeof grantSchema>;
export type TlsSpec = z.output<typeof tlsObject>;

/** The variables every member of a cluster must agree on (checked when the inventory loads). */
export const CLUSTER_WIDE: (keyof PgVars)[] = [
  'pg_version',
  'pg_port',
  'pg_service_name',
  'pg_sync_replicas',
  'pg_credentials_dir',
  'pg_registry',
  'pg_backup',
  'pg_users',
  'pg_databases',
  'pg_tls',
];

/** `~/x` is in the home directory; any other relative path is relative to `base` (the inventory's folder). */
export function resolvePath(base: string, path: string): string {
  if (path === '~' || path.startsWith('~/')) return join(homedir(), path.slice(2));
  return resolve(base, path);
}

/**
 * The path-valued variables made absolute against `base` (the inventory's folder), so that runs
 * from different working directories mean the same files.
 */
export function withAbsolutePaths(v: PgVars, base: string): PgVars {
  const registry = v.pg_registry?.provider === 'dns' ? { ...v.pg_registry, key_file: resolvePath(base, v.pg_registry.key_file) } : v.pg_registry;
  const users = v.pg_users.map((u) => (u.password_file === undefined ? u : { ...u, password_file: resolvePath(base, u.password_file) }));
  const files = (['ca_file', 'cert_file', 'key_file'] as const).filter((k) => v.pg_tls[k] !== undefined);
  const tls = { ...v.pg_tls, ...Object.fromEntries(files.map((k) => [k, resolvePath(base, v.pg_tls[k]!)])) };
  return { ...v, pg_credentials_dir: resolvePath(base, v.pg_credentials_dir), pg_registry: registry, pg_users: users, pg_tls: tls };
}
