import { isIP } from 'node:net';
import type { RegistrySpec } from '../cluster/vars.js';
import { localExec } from './local-exec.js';

type DnsSpec = Extract<RegistrySpec, { provider: 'dns' }>;

export interface DnsRecord {
  type: 'A' | 'CNAME';
  value: string;
}

const fqdn = (name: string) => (name.endsWith('.') ? name : `${name}.`);

/** A record for an IP address, else a CNAME to the primary's name (or `record:` forces one). */
export function desiredRecord(spec: DnsSpec, primaryAddress: string, primaryHost: string): DnsRecord {
  const type = spec.record ?? (isIP(primaryAddress) ? 'A' : 'CNAME');
  if (type === 'A') {
    if (!isIP(primaryAddress)) throw new Error(`pg_registry.record is A but the primary's address ${primaryAddress} is not an IP`);
    return { type, value: primaryAddress };
  }
  return { type, value: fqdn(isIP(primaryAddress) ? primaryHost : primaryAddress) };
}

/** One RFC 2136 transaction: drop any A or CNAME of the name, add the new record. */
export function nsupdateScript(spec: DnsSpec, name: string, record: DnsRecord): string {
  return [
    `server ${spec.server} ${spec.port}`,
    `zone ${spec.zone}`,
    `update delete ${fqdn(name)} A`,
    `update delete ${fqdn(name)} CNAME`,
    `update add ${fqdn(name)} ${spec.ttl} ${record.type} ${record.value}`,
    'send',
    '',
  ].join('\n');
}

/** What the name resolves to now, asked of the zone's server itself (no cache in between). */
export async function currentRecord(spec: DnsSpec, name: string, env: NodeJS.ProcessEnv): Promise<DnsRecord | undefined> {
  for (const type of ['CNAME', 'A'] as const) {
    const r = await localExec('dig', [`@${spec.server}`, '-p', String(spec.port), '+short', '+time=2', '+tries=2', fqdn(name), type], { env });
    if (r.code !== 0) throw new Error(`dig @${spec.server} -p ${spec.port} ${name} failed: ${(r.stderr || r.stdout).trim()}`);
    const values = r.stdout.trim().split('\n').filter(Boolean);
    if (values.length === 1) return { type, value: values[0]! };
    if (values.length > 1) return { type, value: values.sort().join(',') };
  }
  return undefined;
}

/** Sends the update signed with the TSIG key (nsupdate -k); the key never leaves this machine. */
export async function updateRecord(spec: DnsSpec, name: string, record: DnsRecord, env: NodeJS.ProcessEnv): Promise<void> {
  const r = await localExec('nsupdate', ['-k', spec.key_file], { stdin: nsupdateScript(spec, name, record), env });
  if (r.code !== 0) throw new Error(`nsupdate for ${name} failed: ${(r.stderr || r.stdout).trim()}`);
}
