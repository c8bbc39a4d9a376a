import { execFile } from 'node:child_process';
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { isDnsName } from '../cluster/address-syntax.js';
import { CREDENTIALS_MARKER } from '../inventory/sources.js';

/*
 * Certificates made and kept on the machine running pgtasks (the credentials folder), never on a host:
 * a CA and the certificates it signs, each made again when what it must name changed or its end is
 * near. Used by pgBackRest's TLS (src/backup/certs.ts) and PostgreSQL's (src/tls/postgres-certs.ts).
 * openssl runs here through execFile (argv, no shell); keys are 0600 in 0700 folders.
 */

const run = promisify(execFile);

export interface CertWanted {
  cn: string;
  /** subjectAltName, e.g. DNS:10.0.0.1,DNS:h1,IP:10.0.0.1; none for client certificates. */
  san?: string;
  usage: 'server' | 'client';
}

export const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** A folder name that stays one folder: host and cluster names reach paths here. */
export function safeName(name: string): string {
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
export const ipSan = (address: string) => (isIP(address) ? [`IP:${address.replace(/%.*$/, '')}`] : []);

/** SAN entries for names: a name that is not a DNS name (an odd inventory host name) is left out, never spliced in. */
export const dnsNames = (names: string[]) => [...new Set(names)].filter(isDnsName).map((n) => `DNS:${n}`);

export async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export async function privateDir(dir: string, base: string): Promise<void> {
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
export interface Validity {
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

export async function openssl(args: string[], env: Record<string, string> = {}): Promise<void> {
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
export async function ensureCa(dir: string, label: string): Promise<{ cert: string; keyPath: string }> {
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
export async function ensureCert(
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
export async function withFolders<T>(base: string, dirs: string[], write: boolean, fn: (dirs: string[]) => Promise<T>): Promise<T> {
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
