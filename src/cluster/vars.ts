import { z } from 'zod';
import { UserError } from '../errors.js';
import type { Inventory } from '../inventory/index.js';

const hbaRule = z.union([
  z.string(),
  z.object({
    type: z.enum(['local', 'host', 'hostssl', 'hostnossl']).default('host'),
    database: z.string().default('all'),
    user: z.string().default('all'),
    address: z.string().optional(),
    method: z.string().refine((m) => m !== 'trust', 'trust is never allowed over the network; use scram-sha-256'),
  }),
]);

const registry = z.discriminatedUnion('provider', [
  z.object({
    provider: z.literal('dns'),
    server: z.string().default('127.0.0.1'),
    port: z.number().int().min(1).max(65535).default(53),
    zone: z.string(),
    key_file: z.string().describe('TSIG key file as nsupdate -k reads it'),
    ttl: z.number().int().min(0).default(5),
    record: z.enum(['A', 'CNAME']).optional(),
  }),
  z.object({
    provider: z.literal('hosts'),
    hosts: z.string().default('all').describe('Ansible host pattern of the hosts whose /etc/hosts gets the name'),
  }),
  z.object({
    provider: z.literal('command'),
    command: z.string(),
  }),
  z.object({ provider: z.literal('none') }),
]);

/** The pg_* variables of one host, with their defaults (all overridable at any inventory level). */
export const pgVarsSchema = z.object({
  pg_cluster: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'lowercase letters, digits, - and _ only (it names the Debian cluster)'),
  pg_version: z.coerce.number().int().min(10).optional(),
  pg_port: z.coerce.number().int().min(1).max(65535).default(5432),
  pg_service_name: z.string().optional(),
  pg_sync_replicas: z.coerce.number().int().min(0).default(0),
  pg_primary: z.boolean().default(false),
  pg_state: z.enum(['present', 'absent']).default('present'),
  pg_parameters: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
  pg_hba: z.array(hbaRule).default([]),
  pg_registry: registry.optional(),
  pg_credentials_dir: z.string().default('./credentials'),
  pg_listen_addresses: z.string().default('*'),
  pg_pgdg_repo: z.boolean().default(false),
  pg_pgbouncer: z.boolean().default(true),
  pg_pgbouncer_port: z.coerce.number().int().min(1).max(65535).default(6432),
  pg_pgbouncer_pool_mode: z.enum(['session', 'transaction', 'statement']).default('transaction'),
});

export type PgVars = z.output<typeof pgVarsSchema>;
export type HbaRule = z.output<typeof hbaRule>;
export type RegistrySpec = z.output<typeof registry>;

export interface Member {
  host: string;
  /** Address peers and pg_hba use for this host (ansible_host, else its name). */
  address: string;
  vars: PgVars;
}

/** Settings that must agree across a cluster's members (they are read from the first member). */
export interface ClusterSpec {
  name: string;
  members: Member[];
  version?: number;
  port: number;
  serviceName?: string;
  syncReplicas: number;
  registry?: RegistrySpec;
  credentialsDir: string;
}

function parseVars(host: string, vars: Record<string, unknown>): PgVars {
  const parsed = pgVarsSchema.safeParse(vars);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new UserError(`inventory: host ${host}: ${issue.path.join('.')}: ${issue.message}`);
}

const SHARED: (keyof PgVars)[] = ['pg_version', 'pg_port', 'pg_service_name', 'pg_sync_replicas', 'pg_credentials_dir'];

/** Groups the inventory's hosts into clusters by pg_cluster, validating every member's pg_* variables. */
export function clustersOf(inv: Inventory, only?: string): ClusterSpec[] {
  const byName = new Map<string, Member[]>();
  for (const h of inv.hosts.values()) {
    if (h.vars.pg_cluster === undefined) continue;
    const vars = parseVars(h.name, h.vars);
    const member: Member = { host: h.name, address: String(h.vars.ansible_host ?? h.name), vars };
    byName.set(vars.pg_cluster, [...(byName.get(vars.pg_cluster) ?? []), member]);
  }
  if (only && !byName.has(only)) {
    throw new UserError(`--cluster ${only}: no host has pg_cluster: ${only} (clusters: ${[...byName.keys()].join(', ') || 'none'})`);
  }
  const specs: ClusterSpec[] = [];
  for (const [name, members] of byName) {
    if (only && name !== only) continue;
    const first = members[0]!.vars;
    for (const m of members) {
      for (const key of SHARED) {
        if (JSON.stringify(m.vars[key]) !== JSON.stringify(first[key])) {
          throw new UserError(`inventory: cluster ${name}: ${key} differs between ${members[0]!.host} (${JSON.stringify(first[key])}) and ${m.host} (${JSON.stringify(m.vars[key])})`);
        }
      }
    }
    const primaries = members.filter((m) => m.vars.pg_primary);
    if (primaries.length > 1) throw new UserError(`inventory: cluster ${name}: pg_primary is true on ${primaries.map((p) => p.host).join(' and ')}; set it on one host`);
    specs.push({
      name,
      members,
      version: first.pg_version,
      port: first.pg_port,
      serviceName: first.pg_service_name,
      syncReplicas: first.pg_sync_replicas,
      registry: first.pg_registry,
      credentialsDir: first.pg_credentials_dir,
    });
  }
  return specs;
}

/** Replication slot and application_name for a member: its host name in PostgreSQL identifier form. */
export function slotName(host: string): string {
  return host.toLowerCase().replace(/[^a-z0-9_]/g, '_');
}
