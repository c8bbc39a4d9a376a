import { clusterCaFile } from '../tls/postgres-certs.js';
import type { RegistrySpec, TlsSpec } from './pg-vars-schema.js';

/**
 * What a client adds to its connection string to reach the cluster over verified TLS (pg_tls): the CA
 * in the credentials folder (or the inventory's ca_file); nothing when pg_tls is false.
 */
export function tlsConnParams(spec: {
  name: string;
  credentialsDir: string;
  members: { vars: { pg_tls: TlsSpec } }[];
}): { sslmode: string; sslrootcert: string } | undefined {
  const t = spec.members[0]?.vars.pg_tls;
  if (!t?.enabled) return undefined;
  return { sslmode: 'verify-full', sslrootcert: t.ca_file ?? clusterCaFile(spec.credentialsDir, spec.name) };
}

/** ` sslmode=verify-full sslrootcert=PATH` for a psql line, or ''. */
export function tlsConnText(tls: { sslmode: string; sslrootcert: string } | undefined): string {
  return tls ? ` sslmode=${tls.sslmode} sslrootcert=${tls.sslrootcert}` : '';
}

/**
 * The psql line for the primary's address, printed under the service name's line when a cluster is
 * created. The service name is what clients should use (it follows the primary), but the machine
 * running pgtasks often does not resolve it: the lab's name lives only on its BIND at port 15353, and
 * the hosts provider writes other machines' /etc/hosts. Asking this machine's resolver would send a
 * query to whatever DNS server it uses and could still be wrong for the shell the line is pasted in,
 * so both lines are printed and each works where it says it does.
 */
export function primaryAddressLines(
  spec: { serviceName?: string; port: number; registry?: RegistrySpec },
  primary: { host: string; address: string },
  user: string,
  tls?: { sslmode: string; sslrootcert: string },
): string[] {
  if (!spec.serviceName || spec.serviceName === primary.address) return [];
  return [
    `Where ${spec.serviceName} does not resolve${registeredAt(spec.registry)}, reach the primary ${primary.host} by its address:`,
    `  psql "host=${primary.address} port=${spec.port} user=${user} dbname=postgres${tlsConnText(tls)}"`,
  ];
}

function registeredAt(registry: RegistrySpec | undefined): string {
  if (registry?.provider === 'dns') return ` (it is registered on the DNS server ${registry.server} port ${registry.port})`;
  if (registry?.provider === 'hosts') return ` (it is registered in /etc/hosts of the hosts matching ${registry.hosts})`;
  return '';
}
