import { UserError } from '../errors.js';
import type { Inventory } from '../inventory/index.js';
import { InventoryProblems } from '../inventory/types.js';
import { pgVarsSchema, withAbsolutePaths, type BackupSpec, type PgVars, type RegistrySpec } from './pg-vars-schema.js';
import { inventoryProblems, noClusterError } from './cluster-problems.js';

export { pgVarsSchema, type BackupSpec, type HbaRule, type PgVars, type RegistrySpec } from './pg-vars-schema.js';

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
  /** Absolute: a relative pg_credentials_dir is resolved against the inventory's folder. */
  credentialsDir: string;
  /** pg_backup, with the repository host's address (ansible_host, else its name). */
  backup?: BackupSpec & { repoAddress: string };
}

/**
 * The folder relative pg_* paths are resolved against: the inventory's. One built in code has none:
 * '.', which node:path resolves against the working directory (no process state read here).
 */
export function inventoryDir(inv: Inventory): string {
  return inv.dir ?? '.';
}

/**
 * Groups the inventory's hosts into clusters by pg_cluster. An inventory from loadInventory was
 * checked when it loaded; one built in code is checked here, with the same rules.
 * Throws (exit 2) when no host has pg_cluster: every cluster task needs one.
 */
export function clustersOf(inv: Inventory, only?: string): ClusterSpec[] {
  const problems = inventoryProblems(inv);
  if (problems.length) throw new InventoryProblems(problems);
  const base = inventoryDir(inv);
  const byName = new Map<string, Member[]>();
  for (const h of inv.hosts.values()) {
    if (h.vars.pg_cluster === undefined) continue;
    const vars = withAbsolutePaths(pgVarsSchema.parse(h.vars), base);
    const member: Member = { host: h.name, address: String(h.vars.ansible_host ?? h.name), vars };
    byName.set(vars.pg_cluster, [...(byName.get(vars.pg_cluster) ?? []), member]);
  }
  if (byName.size === 0) throw noClusterError(inv);
  if (only && !byName.has(only)) {
    throw new UserError(`--cluster ${only}: no host has pg_cluster: ${only} (clusters: ${[...byName.keys()].join(', ')})`);
  }
  const specs: ClusterSpec[] = [];
  for (const [name, members] of byName) {
    if (only && name !== only) continue;
    const first = members[0]!.vars;
    specs.push({
      name,
      members,
      version: first.pg_version,
      port: first.pg_port,
      serviceName: first.pg_service_name,
      syncReplicas: first.pg_sync_replicas,
      registry: first.pg_registry,
      credentialsDir: first.pg_credentials_dir,
      backup: first.pg_backup && {
        ...first.pg_backup,
        repoAddress: String(inv.hosts.get(first.pg_backup.repo_host)?.vars.ansible_host ?? first.pg_backup.repo_host),
      },
    });
  }
  return specs;
}

/** For tasks that name a host rather than a cluster: the same error as clustersOf when there is none. */
export function requireClusters(inv: Inventory): void {
  if (![...inv.hosts.values()].some((h) => h.vars.pg_cluster !== undefined)) throw noClusterError(inv);
}

/** Replication slot and application_name for a member: its host name in PostgreSQL identifier form. */
export function slotName(host: string): string {
  return host.toLowerCase().replace(/[^a-z0-9_]/g, '_');
}
