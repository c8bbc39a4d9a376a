import { readFile } from 'node:fs/promises';
import type { ClusterContext } from '../src/cluster/cluster-context.js';
import type { ClusterSpec } from '../src/cluster/vars.js';
import { namedCertProblems, PG_TLS_RENEW_DAYS, postgresTls } from '../src/tls/postgres-certs.js';
import { certInfo, renewalReason, type CertInfo } from '../src/tls/x509.js';
import { sh } from '../src/connection/shell.js';
import { fact, type Fact } from '../src/engine/fact.js';
import type { HostView } from '../src/engine/host-view.js';
import { step, type Step } from '../src/engine/step.js';
import { confDir } from '../src/facts/postgres.js';
import type { FileSpec } from '../src/steps/files.js';

/*
 * TLS by default (pg_tls, issue 10). Every member gets a server certificate from the cluster's CA (made
 * on this machine by src/backup/certs.ts, kept in <credentials>/<cluster>/tls/) or the files the
 * inventory names; PostgreSQL reads its copy in its configuration folder, PgBouncer its own copy in
 * /etc/pgbouncer (both owned by postgres, keys 0600). A new or renewed certificate is put in place and
 * PostgreSQL reloads (ssl_* settings reload without a restart since PostgreSQL 10), PgBouncer too
 * (SIGHUP re-reads its TLS files).
 *
 * Which remote connections use it: pg_hba.conf (templates/) takes remote logins, replication included,
 * over TLS only and refuses the rest; replicas verify their primary (sslmode=verify-full against the CA);
 * PgBouncer verifies PostgreSQL the same way and requires TLS from any client that is not on its host.
 */

export interface MemberTls {
  ca: string;
  cert: string;
  key: string;
  /** Why the certificate was made again this run (close to its end), if it was. */
  renewed?: string;
  /** From the inventory's files (pg_tls.cert_file): pgtasks cannot renew them, it warns. */
  named: boolean;
}

export function tlsEnabled(spec: Pick<ClusterSpec, 'members'>): boolean {
  return spec.members[0]?.vars.pg_tls.enabled ?? false;
}

/** The files PostgreSQL reads (postgresql.conf names them). */
export function pgTlsPaths(version: number, cluster: string) {
  const dir = confDir(version, cluster);
  return { cert: `${dir}/server.crt`, key: `${dir}/server.key`, ca: `${dir}/root.crt` };
}

/** PgBouncer's copy: its own files, so a PgBouncer reload and a PostgreSQL reload each read what they were given. */
export const BOUNCER_TLS = { cert: '/etc/pgbouncer/server.crt', key: '/etc/pgbouncer/server.key', ca: '/etc/pgbouncer/root.crt' };

function tlsFiles(paths: { cert: string; key: string; ca: string }, m: MemberTls): FileSpec[] {
  const owned = { owner: 'postgres', group: 'postgres' };
  return [
    { path: paths.ca, ...owned, mode: '0644', content: m.ca },
    { path: paths.cert, ...owned, mode: '0644', content: m.cert },
    { path: paths.key, ...owned, mode: '0600', secret: true, content: m.key },
  ];
}

const expand = (path: string, host: string) => path.split('{host}').join(host);

async function readNamed(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`pg_tls.${what} ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
}

/** The certificates the inventory names, checked: they must let replicas and PgBouncer verify every member. */
async function namedMaterial(spec: ClusterSpec): Promise<Map<string, MemberTls>> {
  const t = spec.members[0]!.vars.pg_tls;
  const out = new Map<string, MemberTls>();
  for (const m of spec.members.filter((x) => x.vars.pg_state !== 'absent')) {
    const [ca, cert, key] = await Promise.all([
      readNamed(t.ca_file!, 'ca_file'),
      readNamed(expand(t.cert_file!, m.host), 'cert_file'),
      readNamed(expand(t.key_file!, m.host), 'key_file'),
    ]);
    const problems = namedCertProblems({ ca, cert, key, address: m.address });
    if (problems.length) throw new Error(`pg_tls.cert_file ${expand(t.cert_file!, m.host)} (${m.host}): ${problems.join('; ')}`);
    out.set(m.host, { ca, cert, key, named: true });
  }
  return out;
}

const material = new WeakMap<ClusterSpec, Map<boolean, Promise<Map<string, MemberTls>>>>();
const provided = new WeakMap<ClusterSpec, () => Promise<Map<string, MemberTls>>>();

/**
 * Every present member's TLS files, made once per run and cluster (members share the CA, so one at a
 * time): `write` false (check mode) makes what is missing in a temporary folder, never in the credentials one.
 */
export function clusterTlsMaterial(spec: ClusterSpec, write: boolean, now = new Date()): Promise<Map<string, MemberTls>> {
  const bySpec = material.get(spec) ?? new Map<boolean, Promise<Map<string, MemberTls>>>();
  material.set(spec, bySpec);
  let p = bySpec.get(write);
  if (!p) {
    const t = spec.members[0]!.vars.pg_tls;
    const given = provided.get(spec);
    p = given
      ? given()
      : t.cert_file !== undefined
        ? namedMaterial(spec)
        : postgresTls({
            credentialsDir: spec.credentialsDir,
            cluster: spec.name,
            serviceName: spec.serviceName,
            members: spec.members.filter((m) => m.vars.pg_state !== 'absent').map((m) => ({ host: m.host, address: m.address })),
            write,
            now,
          }).then(({ ca, servers }) => new Map([...servers].map(([h, s]) => [h, { ca, cert: s.cert, key: s.key, renewed: s.renewed, named: false }])));
    bySpec.set(write, p);
  }
  return p;
}

/** Gives a spec its material, made when first asked for (unit tests: elsewhere than the spec's credentials folder). */
export function provideTlsMaterial(spec: ClusterSpec, make: () => Promise<Map<string, MemberTls>>): void {
  provided.set(spec, make);
  material.delete(spec);
}

/** The certificate a member serves now, read from its configuration folder (public: only the certificate). */
export function serverCertFact(path: string): Fact<CertInfo | undefined> {
  return {
    name: `tls-cert:${path}`,
    command: sh`cat ${path} 2>/dev/null || true`,
    parse: (out) => (out.includes('BEGIN CERTIFICATE') ? certInfo(out) : undefined),
  };
}

const day = (d: Date) => d.toISOString().slice(0, 10);

/**
 * Why a member's certificate files change (pure: unit-tested with fixtures): `serving` is what the
 * host has now (its fact), `wanted` what it gets, `renewed` set when this run made it again.
 */
export function tlsChangeReason(serving: CertInfo | undefined, wanted: CertInfo, renewed: string | undefined, now: Date): string {
  const until = `valid until ${day(wanted.notAfter)}`;
  if (!serving) return `new server certificate (${until})`;
  if (serving.fingerprint === wanted.fingerprint) return 'certificate files (owner, mode, CA or key)';
  const why = renewed ?? renewalReason(serving, now, PG_TLS_RENEW_DAYS);
  if (why) return `renew the server certificate: ${why} (${until})`;
  const names = serving.san.join(',') !== wanted.san.join(',');
  return `${names ? `new names (${wanted.san.join(', ')})` : 'a new server certificate'} (${until})`;
}

/** The member's certificate, key and CA for PostgreSQL's configuration folder (none with pg_tls false). */
export async function pgTlsFiles(cc: Pick<ClusterContext, 'spec' | 'version'>, host: string, view: HostView): Promise<FileSpec[]> {
  if (!tlsEnabled(cc.spec)) return [];
  return tlsFiles(pgTlsPaths(cc.version, cc.spec.name), await memberMaterial(cc.spec, host, view));
}

async function memberMaterial(spec: ClusterSpec, host: string, view: HostView): Promise<MemberTls> {
  const m = (await clusterTlsMaterial(spec, !view.check)).get(host);
  if (!m) throw new Error(`no TLS material for ${host} (pg_state: absent?)`);
  return m;
}

/**
 * The config role's files step, told about TLS: its files include the certificate files (one stat for
 * all, a no-op run reads nothing more), and when the certificate is among those that change, the plan
 * reads the certificate the member serves now (a fact) and says why it changes (renewed, new names).
 * A certificate the inventory names that ends within 30 days is warned about: pgtasks cannot renew it.
 */
export function explainingTls(cc: Pick<ClusterContext, 'spec' | 'version'>, host: string, files: Step, now = () => new Date()): Step {
  const paths = pgTlsPaths(cc.version, cc.spec.name);
  return step(files.name, async (view) => {
    const plan = await files.plan(view);
    if (!tlsEnabled(cc.spec)) return plan;
    const m = await memberMaterial(cc.spec, host, view);
    const wanted = certInfo(m.cert);
    const warning = m.named ? renewalReason(wanted, now(), PG_TLS_RENEW_DAYS) : undefined;
    if (warning) view.message(`pg_tls.cert_file for ${host}: ${warning}; pgtasks does not renew certificates the inventory names: replace the file`);
    if (plan.kind !== 'change' || !plan.actions.some((a) => a.kind === 'put' && a.path === paths.cert)) return plan;
    const serving = await fact(view, serverCertFact(paths.cert));
    return { ...plan, summary: `${tlsChangeReason(serving, wanted, m.renewed, now())}: ${plan.summary}` };
  });
}

/** PgBouncer's copy of the member's pair and the CA (server_tls_ca_file verifies PostgreSQL). */
export async function bouncerTlsFiles(spec: ClusterSpec, host: string, view: HostView): Promise<FileSpec[]> {
  if (!tlsEnabled(spec)) return [];
  const m = (await clusterTlsMaterial(spec, !view.check)).get(host);
  if (!m) throw new Error(`no TLS material for ${host}`);
  return tlsFiles(BOUNCER_TLS, m);
}
