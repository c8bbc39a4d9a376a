import { randomBytes } from 'node:crypto';
import { chmod, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Secrets } from '../engine/secrets.js';
import { dnsNames, ensureCa, ensureCert, hostFileName, ipSan, privateDir, readText, safeName, withFolders } from '../tls/x509.js';
import { clusterClientCn, REPO_CLIENT_CN } from './pgbackrest-config.js';

/*
 * The TLS material and the repository key of pgBackRest, made and kept on the machine running pgtasks
 * (the credentials folder), never on a host: the hosts receive certificates and their own keys only.
 *
 * One CA per repository host, not per cluster: the repository host runs ONE TLS server with ONE
 * certificate that the members of every cluster it serves must verify, and presents ONE client
 * certificate to all of them; a CA per cluster would need that one certificate signed by each. What a
 * certificate may do is decided by its CN on the other side (tls-server-auth lists stanzas per CN),
 * not by its CA, so sharing the CA gives a cluster's members no access to another's stanza.
 *
 *   <credentials>/_pgbackrest/<repo host>/  ca.{crt,key}, server.{crt,key}, client.{crt,key}  (CN pgtasks-repo)
 *   <credentials>/<cluster>/backup/         cipher.pass, client.{crt,key} (CN pgtasks-<cluster>), <host>.server.{crt,key}
 *
 * The certificate mechanics (openssl, CA, renewal) are src/tls/x509.ts.
 */

/** PEM texts a host receives. */
export interface HostTls {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

export function repoCredentialsDir(credentialsDir: string, repoHost: string): string {
  return join(resolve(credentialsDir), '_pgbackrest', hostFileName(repoHost));
}

export function clusterBackupDir(credentialsDir: string, cluster: string): string {
  return join(resolve(credentialsDir), safeName(cluster), 'backup');
}

/** The server certificate's SAN: pgBackRest 2.45 matches the dialled host against DNS names only, so an IP is a DNS name too. */
export function serverSan(address: string, name: string): string {
  const dns = dnsNames([address, name]);
  return [...dns, ...ipSan(address)].join(',');
}

export interface RepoHostInput {
  credentialsDir: string;
  repoHost: string;
  repoAddress: string;
  /** False in check mode: nothing is written in the credentials folder (missing material is made in a temporary folder). */
  write: boolean;
}

async function repoMaterial(dir: string, i: RepoHostInput) {
  const ca = await ensureCa(dir, `pgtasks backup CA (${i.repoHost})`);
  const server = await ensureCert(dir, 'server', { cn: i.repoAddress, san: serverSan(i.repoAddress, i.repoHost), usage: 'server' }, ca);
  const client = await ensureCert(dir, 'client', { cn: REPO_CLIENT_CN, usage: 'client' }, ca);
  return { ca, tls: { ca: ca.cert, serverCert: server.cert, serverKey: server.key, clientCert: client.cert, clientKey: client.key } };
}

/** The repository host's CA and its own server and client pairs (CN pgtasks-repo). */
export async function repoHostTls(i: RepoHostInput): Promise<HostTls> {
  const base = resolve(i.credentialsDir);
  return withFolders(base, [repoCredentialsDir(base, i.repoHost)], i.write, async ([dir]) => (await repoMaterial(dir!, i)).tls);
}

export interface MemberTlsInput extends RepoHostInput {
  cluster: string;
  host: string;
  address: string;
}

/** A member's TLS files: the repository host's CA, its own server pair (SAN: address and name) and its cluster's client pair. */
export async function memberTls(i: MemberTlsInput): Promise<HostTls> {
  const base = resolve(i.credentialsDir);
  return withFolders(base, [repoCredentialsDir(base, i.repoHost), clusterBackupDir(base, i.cluster)], i.write, async ([repoDir, dir]) => {
    const { ca } = await repoMaterial(repoDir!, i);
    const server = await ensureCert(dir!, `${hostFileName(i.host)}.server`, { cn: i.address, san: serverSan(i.address, i.host), usage: 'server' }, ca);
    const client = await ensureCert(dir!, 'client', { cn: clusterClientCn(i.cluster), usage: 'client' }, ca);
    return { ca: ca.cert, serverCert: server.cert, serverKey: server.key, clientCert: client.cert, clientKey: client.key };
  });
}

/**
 * The cluster's repository key (repo1-cipher-pass), generated once, 0600, and registered as a secret of
 * the run: it is masked in everything the run prints. In check mode a missing one is invented, not written.
 */
export async function cipherPass(credentialsDir: string, cluster: string, write: boolean, secrets: Secrets): Promise<string> {
  const dir = clusterBackupDir(credentialsDir, cluster);
  const file = join(dir, 'cipher.pass');
  let value = (await readText(file))?.trim();
  if (!value) {
    value = randomBytes(48).toString('base64url');
    if (write) {
      await privateDir(dir, resolve(credentialsDir));
      await chmod(join(resolve(credentialsDir), safeName(cluster)), 0o700);
      await writeFile(file, `${value}\n`, { mode: 0o600, flag: 'wx' });
    }
  }
  if (write) await chmod(file, 0o600).catch(() => {});
  return secrets.register(value);
}

/**
 * Whether a run already made this cluster's backup material (its client certificate): backups were
 * set up before, so its members archive (or will) whatever this run does.
 */
export async function backupMaterialExists(credentialsDir: string, cluster: string): Promise<boolean> {
  return (await readText(join(clusterBackupDir(credentialsDir, cluster), 'client.json'))) !== undefined;
}
