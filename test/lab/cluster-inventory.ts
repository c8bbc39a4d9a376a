import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { hostExec, type Lab } from './lab.js';

export interface ClusterInventoryOptions {
  cluster?: string;
  hosts?: string[];
  syncReplicas?: number;
  serviceName?: string;
  registry?: Record<string, unknown>;
  hostVars?: Record<string, Record<string, unknown>>;
  clusterVars?: Record<string, unknown>;
  /** Lab hosts outside the cluster (a backup repository host), in a group of their own. */
  extraHosts?: string[];
}

/** How pgtasks reaches the lab's hosts: as root with the lab's key, host keys checked against the lab's known_hosts. */
export function labConnectionVars(lab: Lab): Record<string, string> {
  return { ansible_user: 'root', ansible_ssh_private_key_file: lab.privateKeyFile, ssh_known_hosts_file: lab.knownHostsFile, ssh_host_key_checking: 'strict' };
}

/** Writes an inventory for a cluster on the lab's hosts, as a user would write one. */
export function writeClusterInventory(lab: Lab, file: string, o: ClusterInventoryOptions = {}): string {
  const hosts = o.hosts ?? lab.hosts.map((h) => h.name);
  const doc = {
    all: {
      vars: labConnectionVars(lab),
      children: {
        [o.cluster ?? 'demo']: {
          vars: {
            pg_cluster: o.cluster ?? 'demo',
            pg_sync_replicas: o.syncReplicas ?? 1,
            pg_credentials_dir: join(lab.dir, 'credentials'),
            ...(o.serviceName ? { pg_service_name: o.serviceName } : {}),
            ...(o.registry ? { pg_registry: o.registry } : {}),
            ...o.clusterVars,
          },
          hosts: Object.fromEntries(hosts.map((name) => [name, { ansible_host: lab.hosts.find((h) => h.name === name)!.address, ...o.hostVars?.[name] }])),
        },
        ...(o.extraHosts?.length
          ? {
              others: {
                hosts: Object.fromEntries(
                  o.extraHosts.map((name) => [name, { ansible_host: lab.hosts.find((h) => h.name === name)!.address, ...o.hostVars?.[name] }]),
                ),
              },
            }
          : {}),
      },
    },
  };
  writeFileSync(file, stringify(doc));
  return file;
}

/** psql on a lab host as the postgres OS user; returns trimmed output (throws on error). */
export async function sql(lab: Lab, host: string, query: string, port = 5432): Promise<string> {
  const r = await hostExec(lab, host, `runuser -u postgres -- psql -X -At -p ${port} -d postgres -v ON_ERROR_STOP=1 -c ${shellQuote(query)}`);
  if (r.code !== 0) throw new Error(`psql on ${host} failed: ${r.stderr}`);
  return r.stdout.trim();
}

export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
