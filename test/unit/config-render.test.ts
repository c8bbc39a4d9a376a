import { describe, expect, test } from 'vitest';
import { configFiles, hbaAddress, hbaLine } from '../../roles/config.js';
import { pgbouncerFiles, userlist } from '../../roles/pgbouncer.js';
import { syncSetting } from '../../roles/sync.js';
import type { ClusterContext } from '../../src/cluster/cluster-context.js';
import { clustersOf, pgVarsSchema } from '../../src/cluster/vars.js';
import { pgConfValue, Templates } from '../../src/engine/templates.js';
import type { Inventory } from '../../src/inventory/index.js';

const vars = (extra: Record<string, unknown> = {}) => pgVarsSchema.parse({ pg_cluster: 'orders', ...extra });
const members = [
  {
    host: 'db1',
    address: '10.0.0.1',
    vars: vars({
      pg_parameters: { shared_buffers: '1GB', jit: false, max_connections: 300 },
      pg_hba: [{ address: '10.1.0.0/16', method: 'scram-sha-256' }, 'hostssl app app 0.0.0.0/0 scram-sha-256'],
    }),
  },
  { host: 'db2', address: '10.0.0.2', vars: vars() },
];
const cc = {
  spec: { name: 'orders', members, port: 5433, syncReplicas: 1, credentialsDir: '.' },
  plan: {
    cluster: 'orders',
    primary: members[0]!,
    primaryAction: 'keep',
    replicas: [{ member: members[1]!, action: 'keep' }],
    deactivate: [],
    syncCandidates: ['db2'],
    notes: [],
  },
  version: 16,
  creds: { admin: 'adminpw', replicator: 'replpw', created: false, dir: '.' },
  facts: new Map(),
  systemd: new Map(),
  touched: new Set(),
  templates: new Templates(),
} as unknown as ClusterContext;
const file = (host: string, name: string) => configFiles(cc, host).find((f) => f.path.endsWith(`/${name}`))!;

describe('configuration rendered from templates/', () => {
  test('postgresql.conf: Debian paths, replication settings, the inventory parameters', () => {
    const conf = file('db1', 'postgresql.conf').content;
    expect(conf).toContain("data_directory = '/var/lib/postgresql/16/orders'");
    expect(conf).toContain('port = 5433');
    expect(conf).toContain('wal_level = replica');
    expect(conf).toMatch(/shared_buffers = '1GB'\njit = off\nmax_connections = 300/);
    expect(conf).not.toContain('primary_conninfo');
  });

  test('a replica streams from the planned primary through its slot, password in a passfile only', () => {
    const conf = file('db2', 'postgresql.conf').content;
    expect(conf).toContain(
      "primary_conninfo = 'host=10.0.0.1 port=5433 user=replicator passfile=/etc/postgresql/16/orders/pgpass application_name=db2 sslmode=verify-full sslrootcert=/etc/postgresql/16/orders/root.crt'",
    );
    expect(conf).toContain("primary_slot_name = 'db2'");
    expect(conf).not.toContain('replpw');
    const pgpass = file('db2', 'pgpass');
    expect(pgpass).toMatchObject({ mode: '0600', owner: 'postgres', secret: true, content: '*:5433:*:replicator:replpw\n' });
  });

  test('pg_hba: replication from members only, scram everywhere, no trust, extra rules appended', () => {
    const hba = file('db1', 'pg_hba.conf').content;
    expect(hba).toMatch(/hostssl +replication +replicator +10\.0\.0\.2\/32 +scram-sha-256/);
    expect(
      hba
        .split('\n')
        .filter((l) => !l.startsWith('#'))
        .join('\n'),
    ).not.toMatch(/\btrust\b/);
    expect(hba).toContain('host  all  all  10.1.0.0/16  scram-sha-256');
    expect(hba).toContain('hostssl app app 0.0.0.0/0 scram-sha-256');
    expect(hbaAddress('db.example.com')).toBe('db.example.com');
    expect(hbaAddress('fe80::1')).toBe('fe80::1/128');
    expect(hbaLine({ type: 'local', database: 'all', user: 'all', method: 'peer' })).toBe('local  all  all  peer');
  });

  test('trust is refused in the inventory', () => {
    expect(() => vars({ pg_hba: [{ address: '0.0.0.0/0', method: 'trust' }] })).toThrow(/trust is never allowed/);
  });

  test('postgresql.conf values and synchronous_standby_names', () => {
    expect(pgConfValue(true)).toBe('on');
    expect(pgConfValue(64)).toBe('64');
    expect(pgConfValue("it's")).toBe("'it''s'");
    expect(syncSetting(['db2', 'db3'], 1)).toBe('FIRST 1 ("db2", "db3")');
    expect(syncSetting([], 1)).toBe('');
  });

  test('PgBouncer points at the primary; userlist holds the verifiers', () => {
    const [ini, users] = pgbouncerFiles(cc.spec, 'db2', '10.0.0.1', [{ name: 'admin', verifier: 'SCRAM-SHA-256$4096:abc$def:ghi' }], cc.templates);
    expect(ini!.content).toContain('* = host=10.0.0.1 port=5433');
    expect(ini!.content).toContain('pool_mode = transaction');
    // pg_tls (default): PgBouncer's own hba rules, TLS required from other hosts, PostgreSQL verified.
    expect(ini!.content).toContain('auth_type = hba\nauth_hba_file = /etc/pgbouncer/pg_hba.conf');
    expect(ini!.content).toContain('client_tls_sslmode = prefer');
    expect(ini!.content).toContain('server_tls_sslmode = verify-full\nserver_tls_ca_file = /etc/pgbouncer/root.crt');
    expect(users).toMatchObject({ mode: '0640', secret: true, content: '"admin" "SCRAM-SHA-256$4096:abc$def:ghi"\n' });
    expect(userlist([{ name: 'we"ird', verifier: 'v' }])).toBe('"we""ird" "v"\n');
  });
});

describe('cluster variables from the inventory', () => {
  const inv = (hosts: Record<string, Record<string, unknown>>): Inventory => ({
    sources: ['inv.yml'],
    groups: new Map(),
    hosts: new Map(Object.entries(hosts).map(([name, v]) => [name, { name, vars: v }])),
  });
  test('hosts sharing pg_cluster form a cluster, in inventory order, with defaults', () => {
    const [spec] = clustersOf(inv({ a: { pg_cluster: 'x', ansible_host: '10.0.0.1' }, b: { pg_cluster: 'x' }, c: {} }));
    expect(spec!.members.map((m) => [m.host, m.address])).toEqual([
      ['a', '10.0.0.1'],
      ['b', 'b'],
    ]);
    // Built in code, the inventory has no folder: a relative path is the working directory's.
    expect(spec).toMatchObject({ name: 'x', port: 5432, syncReplicas: 0, credentialsDir: `${process.cwd()}/credentials` });
  });
  test('bad values name the host and the variable', () => {
    expect(() => clustersOf(inv({ a: { pg_cluster: 'x', pg_port: 'many' } }))).toThrow(/host a: pg_port: must be a port number/);
    expect(() => clustersOf(inv({ a: { pg_cluster: 'X Y' } }))).toThrow(/host a: pg_cluster: lowercase/);
    expect(() => clustersOf(inv({ a: { pg_cluster: 'x', pg_port: 5432 }, b: { pg_cluster: 'x', pg_port: 5433 } }))).toThrow(
      /cluster x: pg_port differs between a \(5432\) and b \(5433\)/,
    );
    expect(() => clustersOf(inv({ a: { pg_cluster: 'x', pg_primary: true }, b: { pg_cluster: 'x', pg_primary: true } }))).toThrow(
      /pg_primary is true on a and b/,
    );
    expect(() => clustersOf(inv({ a: { pg_cluster: 'x' } }), 'y')).toThrow(/--cluster y: no host has pg_cluster: y/);
  });
});
