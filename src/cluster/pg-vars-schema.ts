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
});

export type PgVars = z.output<typeof pgVarsSchema>;
export type HbaRule = z.output<typeof hbaRule>;
export type RegistrySpec = z.output<typeof registry>;
export type BackupSpec = z.output<typeof backup>;

/** The variables every member of a cluster must agree on (checked when the inventory loads). */
export const CLUSTER_WIDE: (keyof PgVars)[] = [
  'pg_version',
  'pg_port',
  'pg_service_name',
  'pg_sync_replicas',
  'pg_credentials_dir',
  'pg_registry',
  'pg_backup',
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
  return { ...v, pg_credentials_dir: resolvePath(base, v.pg_credentials_dir), pg_registry: registry };
}
