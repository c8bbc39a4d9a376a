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
  // Both questions in one dig (one process, one round trip each in parallel): the answer lines carry their type.
  const r = await localExec(
    'dig',
    [`@${spec.server}`, '-p', String(spec.port), '+noall', '+answer', '+time=2', '+tries=2', fqdn(name), 'CNAME', fqdn(name), 'A'],
    {
      env,
    },
  );
  if (r.code !== 0) throw new Error(`dig @${spec.server} -p ${spec.port} ${name} failed: ${(r.stderr || r.stdout).trim()}`);
  return parseAnswers(r.stdout, fqdn(name));
}

/** The record `name` has, from dig's answer lines (`name. TTL IN TYPE value`): its CNAME, else its A values. */
export function parseAnswers(output: string, name: string): DnsRecord | undefined {
  const rows = output
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 5 && f[0]!.toLowerCase() === name.toLowerCase());
  const of = (type: string) => [...new Set(rows.filter((f) => f[3] === type).map((f) => f[4]!))];
  const cname = of('CNAME');
  if (cname.length) return { type: 'CNAME', value: cname.sort().join(',') };
  const a = of('A');
  return a.length ? { type: 'A', value: a.sort().join(',') } : undefined;
}

/** Sends the update signed with the TSIG key (nsupdate -k); the key never leaves this machine. */
export async function updateRecord(spec: DnsSpec, name: string, record: DnsRecord, env: NodeJS.ProcessEnv): Promise<void> {
  const r = await localExec('nsupdate', ['-k', spec.key_file], { stdin: nsupdateScript(spec, name, record), env });
  if (r.code !== 0) throw new Error(`nsupdate for ${name} failed: ${(r.stderr || r.stdout).trim()}`);
}
