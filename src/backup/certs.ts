import { isDnsName } from '../cluster/address-syntax.js';
import { execFile } from 'node:child_process';
import { createHash, createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Secrets } from '../engine/secrets.js';
import { CREDENTIALS_MARKER } from '../inventory/sources.js';
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
 * openssl runs here through execFile (argv, no shell); keys are 0600 in 0700 folders.
 */

const run = promisify(execFile);

/** PEM texts a host receives. */
export interface HostTls {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

interface CertWanted {
  cn: string;
  /** subjectAltName, e.g. DNS:10.0.0.1,DNS:h1,IP:10.0.0.1; none for client certificates. */
  san?: string;
  usage: 'server' | 'client';
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** A folder name that stays one folder: host and cluster names reach paths here. */
function safeName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) throw new Error(`${JSON.stringify(name)}: cannot name a credentials folder (letters, digits, '.', '-', '_')`);
  return name;
}

/**
 * A file or folder name for an inventory host name, which Ansible lets hold almost anything: the name
 * itself when it is plain, else its plain characters and a hash of it (distinct names, distinct files).
 */
export function hostFileName(host: string): string {
  if (/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(host)) return host;
  return `${host.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^[^A-Za-z0-9]/, 'h')}-${sha256(host).slice(0, 8)}`;
}

/** The IP SAN for an address; an IPv6 zone (fe80::1%eth0) is this machine's, not part of the address a certificate names. */
const ipSan = (address: string) => (isIP(address) ? [`IP:${address.replace(/%.*$/, '')}`] : []);

/** SAN entries for names: a name that is not a DNS name (an odd inventory host name) is left out, never spliced in. */
const dnsNames = (names: string[]) => [...new Set(names)].filter(isDnsName).map((n) => `DNS:${n}`);

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

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function privateDir(dir: string, base: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  // Marks the credentials folder, as clusterCredentials does: a directory inventory around it never reads it.
  await writeFile(join(base, CREDENTIALS_MARKER), '', { mode: 0o600, flag: 'a' });
}

const OPENSSL_CONF = `[req]
distinguished_name = dn
prompt = no
[dn]
[ca]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = CA:false
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = \${ENV::PGTASKS_SAN}
[client]
basicConstraints = CA:false
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
`;

const KEY_ARGS = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
const DAYS = '3650';

/** How long a certificate is made for, and (when set) how close to its end it is made again. */
interface Validity {
  /** Days, as openssl -days takes them (default 3650). */
  days?: string;
  /** Renewed when it ends within this many days (or has ended). */
  renewWithinDays?: number;
  now?: Date;
}

/** What a certificate says, read with node:crypto (no openssl run): its end, names and fingerprint. */
export interface CertInfo {
  notAfter: Date;
  /** subjectAltName entries as openssl prints them: DNS:h1, IP Address:10.0.0.1. */
  san: string[];
  fingerprint: string;
}

export function certInfo(pem: string): CertInfo {
  const x = new X509Certificate(pem);
  return { notAfter: new Date(x.validTo), san: (x.subjectAltName ?? '').split(/,\s*/).filter(Boolean), fingerprint: x.fingerprint256 };
}

/** Why a certificate must be made again (it ends within `days` of `now`, or has ended), or undefined. */
export function renewalReason(info: Pick<CertInfo, 'notAfter'>, now: Date, days: number): string | undefined {
  const left = (info.notAfter.getTime() - now.getTime()) / 86_400_000;
  const end = info.notAfter.toISOString().slice(0, 10);
  if (left <= 0) return `it expired on ${end}`;
  if (left <= days) return `it expires on ${end}, in ${Math.floor(left)} day(s) (renewed within ${days})`;
  return undefined;
}

async function openssl(args: string[], env: Record<string, string> = {}): Promise<void> {
  try {
    // The config names ${ENV::PGTASKS_SAN}: it must be set whenever openssl reads it. A fixed PATH, and
    // nothing else of this process's environment (module code reaches no process state: see run-io.ts).
    await run('openssl', args, { env: { PATH: '/usr/local/bin:/usr/bin:/bin', PGTASKS_SAN: 'DNS:unused', ...env }, timeout: 30_000 });
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`openssl ${args[0]} failed: ${(e.stderr ?? e.message).trim()}`);
  }
}

/** A CA in `dir` (ca.crt, ca.key), made once. */
async function ensureCa(dir: string, label: string): Promise<{ cert: string; keyPath: string }> {
  const keyPath = join(dir, 'ca.key');
  const have = await readText(join(dir, 'ca.crt'));
  if (have && (await readText(keyPath))) return { cert: have, keyPath };
  const conf = join(dir, 'openssl.cnf');
  await writeFile(conf, OPENSSL_CONF, { mode: 0o600 });
  await openssl([
    'req',
    '-x509',
    ...KEY_ARGS,
    '-keyout',
    keyPath,
    '-out',
    join(dir, 'ca.crt'),
    '-days',
    DAYS,
    '-subj',
    `/CN=${label}`,
    '-config',
    conf,
    '-extensions',
    'ca',
  ]);
  await chmod(keyPath, 0o600);
  return { cert: await readFile(join(dir, 'ca.crt'), 'utf8'), keyPath };
}

/**
 * A certificate `name`.crt/.key in `dir`, signed by the CA, made again when what it says (CN, SAN) or
 * its CA changed: a sidecar `name`.json remembers both, so a no-op run runs no openssl at all.
 */
async function ensureCert(
  dir: string,
  name: string,
  want: CertWanted,
  ca: { cert: string; keyPath: string },
  validity: Validity = {},
): Promise<{ cert: string; key: string; renewed?: string }> {
  const meta = JSON.stringify({ cn: want.cn, san: want.san ?? null, usage: want.usage, ca: sha256(ca.cert) });
  const [cert, key, seen] = await Promise.all([readText(join(dir, `${name}.crt`)), readText(join(dir, `${name}.key`)), readText(join(dir, `${name}.json`))]);
  const expiring =
    cert && validity.renewWithinDays !== undefined ? renewalReason(certInfo(cert), validity.now ?? new Date(), validity.renewWithinDays) : undefined;
  if (cert && key && seen?.trim() === meta && !expiring) return { cert, key };
  const conf = join(dir, 'openssl.cnf');
  await writeFile(conf, OPENSSL_CONF, { mode: 0o600 });
  const [k, csr, crt, caCrt] = [`${name}.key`, `${name}.csr`, `${name}.crt`, `${name}.ca.crt`].map((x) => join(dir, x)) as [string, string, string, string];
  await writeFile(caCrt, ca.cert, { mode: 0o600 });
  await openssl(['req', '-new', ...KEY_ARGS, '-keyout', k, '-out', csr, '-subj', `/CN=${want.cn}`, '-config', conf]);
  await chmod(k, 0o600);
  const serial = `0x${randomBytes(16).toString('hex')}`;
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      caCrt,
      '-CAkey',
      ca.keyPath,
      '-set_serial',
      serial,
      '-days',
      validity.days ?? DAYS,
      '-out',
      crt,
      '-extfile',
      conf,
      '-extensions',
      want.usage,
    ],
    { PGTASKS_SAN: want.san ?? 'DNS:unused' },
  );
  await Promise.all([rm(csr, { force: true }), rm(caCrt, { force: true })]);
  await writeFile(join(dir, `${name}.json`), `${meta}\n`, { mode: 0o600 });
  return { cert: await readFile(crt, 'utf8'), key: await readFile(k, 'utf8'), ...(expiring ? { renewed: expiring } : {}) };
}

/**
 * Runs `fn` with folders to keep material in: the real ones when writing, else (check mode) temporary
 * copies of them, removed afterwards, so check mode never writes in the credentials folder.
 */
async function withFolders<T>(base: string, dirs: string[], write: boolean, fn: (dirs: string[]) => Promise<T>): Promise<T> {
  if (write) {
    for (const d of dirs) await privateDir(d, base);
    return fn(dirs);
  }
  const tmp = await mkdtemp(join(tmpdir(), 'pgtasks-certs-'));
  try {
    const copies = await Promise.all(
      dirs.map(async (d, i) => {
        const copy = join(tmp, String(i));
        await mkdir(copy, { mode: 0o700 });
        const names = await readdir(d).catch(() => [] as string[]);
        for (const n of names) {
          const t = await readText(join(d, n)).catch(() => undefined);
          if (t !== undefined) await writeFile(join(copy, n), t, { mode: 0o600 });
        }
        return copy;
      }),
    );
    return await fn(copies);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
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

// ---- PostgreSQL's TLS (pg_tls, issue 10) ----------------------------------------------------------

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
