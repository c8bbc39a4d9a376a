import type { RegistrySpec } from './pg-vars-schema.js';

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
): string[] {
  if (!spec.serviceName || spec.serviceName === primary.address) return [];
  return [
    `Where ${spec.serviceName} does not resolve${registeredAt(spec.registry)}, reach the primary ${primary.host} by its address:`,
    `  psql "host=${primary.address} port=${spec.port} user=${user} dbname=postgres"`,
  ];
}

function registeredAt(registry: RegistrySpec | undefined): string {
  if (registry?.provider === 'dns') return ` (it is registered on the DNS server ${registry.server} port ${registry.port})`;
  if (registry?.provider === 'hosts') return ` (it is registered in /etc/hosts of the hosts matching ${registry.hosts})`;
  return '';
}
