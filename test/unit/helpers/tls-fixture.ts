import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { postgresTls } from '../../../src/tls/postgres-certs.js';
import type { ClusterSpec } from '../../../src/cluster/vars.js';
import type { MemberTls } from '../../../roles/tls.js';

/*
 * Real certificates for role fixtures (pg_tls is on by default): made once per test process with the
 * same code as a run (openssl, src/backup/certs.ts), in a temporary folder, never in the fixture's
 * credentials folder. Every fixture cluster of a process shares the CA; a member's pair is made for its
 * host, address and the service name.
 */
const dir = mkdtempSync(join(tmpdir(), 'pgtasks-tls-fixture-'));
const made = new Map<string, Promise<Map<string, MemberTls>>>();
/** One at a time: the pairs share the CA's folder. */
let queue: Promise<unknown> = Promise.resolve();

export function fixtureTlsMaterial(spec: Pick<ClusterSpec, 'members' | 'serviceName'>, now?: Date): Promise<Map<string, MemberTls>> {
  const members = spec.members.map((m) => ({ host: m.host, address: m.address }));
  const key = JSON.stringify([members, spec.serviceName ?? null, now?.toISOString() ?? null]);
  let p = made.get(key);
  if (!p) {
    p = queue.then(() =>
      postgresTls({ credentialsDir: dir, cluster: 'fixture', serviceName: spec.serviceName, members, write: true, now }).then(
        ({ ca, servers }) => new Map([...servers].map(([h, s]) => [h, { ca, cert: s.cert, key: s.key, renewed: s.renewed, named: false }])),
      ),
    );
    queue = p.catch(() => undefined);
    made.set(key, p);
  }
  return p;
}

export const fixtureTlsDir = dir;
