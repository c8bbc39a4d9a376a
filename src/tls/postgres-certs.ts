import { createPrivateKey, X509Certificate } from 'node:crypto';
import { chmod, mkdir } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { isDnsName } from '../cluster/address-syntax.js';
import { dnsNames, ensureCa, ensureCert, hostFileName, ipSan, safeName, withFolders } from './x509.js';

// PostgreSQL's TLS (pg_tls, issue 10): its CA and each member's server certificate.
/*
 * One CA per cluster (not the repository host's: that one is shared by every cluster backing up to the
 * same host, and PostgreSQL clients trusting it would trust other clusters' servers too):
 *
 *   <credentials>/<cluster>/tls/   ca.{crt,key}, <host>.server.{crt,key,json}
 *
 * A member's server certificate names its host, its address (an IP SAN, and the address as a DNS name
 * too for clients that match DNS names only) and the cluster's service name (any member may become the
 * primary the name points at). Made for 825 days and made again by a run within 30 days of its end.
 */

export const PG_TLS_RENEW_DAYS = 30;
const PG_SERVER_DAYS = '825';

export function clusterTlsDir(credentialsDir: string, cluster: string): string {
  return join(resolve(credentialsDir), safeName(cluster), 'tls');
}

/** The CA clients verify the cluster's servers with (sslrootcert). */
export function clusterCaFile(credentialsDir: string, cluster: string): string {
  return join(clusterTlsDir(credentialsDir, cluster), 'ca.crt');
}

/** The SAN of a member's PostgreSQL certificate: its address (DNS and IP), its host name, the service name. */
export function postgresSan(address: string, host: string, serviceName?: string): string {
  const dns = dnsNames([address, host, ...(serviceName ? [serviceName] : [])]);
  return [...dns, ...ipSan(address)].join(',');
}

export interface PostgresTlsInput {
  credentialsDir: string;
  cluster: string;
  serviceName?: string;
  members: { host: string; address: string }[];
  /** False in check mode: nothing is written in the credentials folder. */
  write: boolean;
  now?: Date;
}

export interface PostgresServerPair {
  cert: string;
  key: string;
  /** Set when this call made it again because it was close to its end (the reason). */
  renewed?: string;
}

/** The cluster's CA and each member's server pair, made when missing, when their names changed, or close to their end. */
export async function postgresTls(i: PostgresTlsInput): Promise<{ ca: string; servers: Map<string, PostgresServerPair> }> {
  const base = resolve(i.credentialsDir);
  const cluster = join(base, safeName(i.cluster));
  if (i.write) {
    await mkdir(cluster, { recursive: true, mode: 0o700 });
    await chmod(cluster, 0o700);
  }
  return withFolders(base, [clusterTlsDir(base, i.cluster)], i.write, async ([dir]) => {
    const ca = await ensureCa(dir!, `pgtasks PostgreSQL CA (${i.cluster})`);
    const servers = new Map<string, PostgresServerPair>();
    for (const m of i.members) {
      const san = postgresSan(m.address, m.host, i.serviceName);
      const validity = { days: PG_SERVER_DAYS, renewWithinDays: PG_TLS_RENEW_DAYS, now: i.now };
      const cn = isDnsName(m.host) ? m.host : m.address;
      servers.set(m.host, await ensureCert(dir!, `${hostFileName(m.host)}.server`, { cn, san, usage: 'server' }, ca, validity));
    }
    return { ca: ca.cert, servers };
  });
}

/**
 * What keeps certificates the inventory names (pg_tls.cert_file) from working: replicas and PgBouncer
 * dial a member by its address with sslmode=verify-full, so the certificate must name that address,
 * come from ca_file, and match its key.
 */
export function namedCertProblems(i: { ca: string; cert: string; key: string; address: string }): string[] {
  let x: X509Certificate;
  let ca: X509Certificate;
  try {
    x = new X509Certificate(i.cert);
  } catch {
    return ['is not a PEM certificate'];
  }
  try {
    ca = new X509Certificate(i.ca);
  } catch {
    return ['pg_tls.ca_file is not a PEM certificate'];
  }
  const problems: string[] = [];
  const names = (x.subjectAltName ?? '').split(/,\s*/).filter(Boolean);
  const ip = isIP(i.address);
  if (!names.includes(`DNS:${i.address}`) && !(ip && names.some((n) => n === `IP Address:${i.address}` || n === `IP Address:${i.address.toUpperCase()}`)))
    problems.push(`does not name ${i.address} (it names ${names.join(', ') || 'nothing in subjectAltName'}): replicas and PgBouncer verify it by that address`);
  if (!x.checkIssued(ca) || !x.verify(ca.publicKey)) problems.push('is not signed by pg_tls.ca_file');
  try {
    if (!x.checkPrivateKey(createPrivateKey(i.key))) problems.push('does not match pg_tls.key_file');
  } catch {
    problems.push('pg_tls.key_file is not a PEM private key (without a passphrase)');
  }
  return problems;
}
