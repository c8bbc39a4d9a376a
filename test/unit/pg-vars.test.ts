import { writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { closest } from '../../src/cluster/did-you-mean.js';
import { clustersOf } from '../../src/cluster/vars.js';
import { loadInventory } from '../../src/inventory/index.js';

import { fixtures, messages, problems, tree } from './helpers/pg-vars-problems.js';

describe('every problem at once, each at the file and line that set it', () => {
  test('YAML: unknown names, types, nested values (pg_registry, pg_hba, pg_parameters), pg_primary twice', async () => {
    expect(await problems(fixtures + 'bad.yml')).toEqual([
      'bad.yml:9: pg_sync_replica: unknown variable; did you mean pg_sync_replicas?',
      'bad.yml:10: pg_port: must be a port number from 1 to 65535 (got "5432", a string: write 5432 without quotes)',
      'bad.yml:11: pg_pgbouncer: must be true or false (yes, no, on, off also do) (got "maybe")',
      'bad.yml:16: pg_registry.port: must be a port number from 1 to 65535 (got "fifty-three")',
      'bad.yml:17: pg_registry.zon: unknown key; did you mean zone? (it takes provider, server, port, zone, key_file, ttl, record)',
      'bad.yml:20: pg_hba[1].method: trust is never allowed over the network; use scram-sha-256 (got "trust")',
      'bad.yml:21: pg_hba[2].method: is required',
      'bad.yml:21: pg_hba[2].methd: unknown key; did you mean method? (it takes type, database, user, address, method)',
      'bad.yml:24: pg_parameters.work_mem: must be a string, a number or a boolean (got {"a":1})',
      'bad.yml:25: pg_parameters.port: is set by pgtasks; set pg_port instead',
      'bad.yml:32: cluster demo: pg_primary is true on h1 at line 29 and h2 at line 32; set it on one host only',
      'bad.yml:35: pg_state: must be one of present, absent (got "gone")',
    ]);
  });

  test('INI: values typed as Ansible types them; a cluster-wide setting that differs; too many sync replicas', async () => {
    expect(await problems(fixtures + 'bad.ini')).toEqual([
      // `pg_port="5433"` on a host line: shlex drops the quotes and literal_eval makes it 5433, as in Ansible.
      'bad.ini:3: cluster demo: pg_port differs between h1, h3 (5432, the default) and h2 (5433, line 3); it must be the same on every member of a cluster',
      'bad.ini:4: pg_credentials_dir: must not be empty (got "")',
      'bad.ini:8: cluster demo: pg_sync_replicas is 3 but the cluster has only 2 replicas (members with pg_state: present: h1, h2, h3); every write would wait for a standby that does not exist',
      'bad.ini:10: pg_pgdg_repo: must be true or false (yes, no, on, off also do) (got 1)',
      'bad.ini:11: pg_service_nmae: unknown variable; did you mean pg_service_name?',
    ]);
  });

  test('group_vars/ and host_vars/ files: their own file and line', async () => {
    expect(await problems(fixtures + 'bad-dir')).toEqual([
      'bad-dir/group_vars/demo.yml:5: pg_credential_dir: unknown variable; did you mean pg_credentials_dir?',
      'bad-dir/host_vars/h3.yml:2: cluster demo: pg_port differs between h1, h2 (5432, bad-dir/group_vars/demo.yml:3) and h3 (5433, line 2); it must be the same on every member of a cluster',
      'bad-dir/host_vars/h3.yml:3: pg_version: must be a PostgreSQL major version, an integer such as 16 (got "16", a string: write 16 without quotes)',
    ]);
  });

  test('INI: Ansible boolean words are booleans, Python literals are typed; the inventory loads', async () => {
    const [spec] = clustersOf(await loadInventory(fixtures + 'good.ini'));
    expect(spec!.members.map((m) => [m.host, m.vars.pg_primary, m.vars.pg_pgbouncer, m.vars.pg_pgdg_repo])).toEqual([
      ['h1', true, true, false],
      ['h2', false, false, false],
      ['h3', false, true, false],
    ]);
    expect(spec).toMatchObject({ port: 5433, syncReplicas: 1, credentialsDir: join(fixtures, 'secrets') });
    expect(spec!.members[0]!.vars.pg_parameters).toEqual({ shared_buffers: '64MB', jit: false, 'myext.level': 3 });
  });

  test('a value set in a group is reported once, not once per host', async () => {
    const dir = tree({ 'i.yml': 'db:\n  vars:\n    pg_cluster: c\n    pg_port: x\n  hosts:\n    a:\n    b:\n    c:\n' });
    expect(await problems(join(dir, 'i.yml'), `${dir}/`)).toEqual(['i.yml:4: pg_port: must be a port number from 1 to 65535 (got "x")']);
  });

  test('a shadowed value is checked too (group_vars/ over the inventory), each at its own line', async () => {
    const dir = tree({ 'i.yml': 'db:\n  vars:\n    pg_port: nope\n  hosts:\n    a:\n', 'group_vars/db.yml': 'pg_port: 5433\n' });
    expect(await problems(join(dir, 'i.yml'), `${dir}/`)).toEqual(['i.yml:3: pg_port: must be a port number from 1 to 65535 (got "nope")']);
  });

  test('pg_primary on a whole group, pg_state: absent on the primary, PgBouncer on the PostgreSQL port', async () => {
    const dir = tree({
      'i.yml': [
        'db:',
        '  vars:',
        '    pg_cluster: c',
        '    pg_primary: true',
        '  hosts:',
        '    a:',
        '    b:',
        '      pg_state: absent',
        '      pg_pgbouncer_port: 5432',
        '',
      ].join('\n'),
    });
    expect(await problems(join(dir, 'i.yml'), `${dir}/`)).toEqual([
      'i.yml:4: cluster c: pg_primary is true on a and b, all from this one setting; set it on one host only',
      'i.yml:8: cluster c: b has pg_state: absent and pg_primary: true (line 4); a removed host cannot be the primary',
    ]);
    const bouncer = tree({ 'i.ini': '[db]\na pg_pgbouncer_port=5433\n[db:vars]\npg_cluster=c\npg_port=5433\n' });
    expect(await problems(join(bouncer, 'i.ini'), `${bouncer}/`)).toEqual([
      'i.ini:2: cluster c: a: pg_pgbouncer_port (line 2) and pg_port (line 5) are both 5433; PgBouncer and PostgreSQL cannot share a port',
    ]);
    const defaultBouncer = tree({ 'i.yml': 'db:\n  vars:\n    pg_cluster: c\n    pg_port: 6432\n  hosts:\n    a:\n' });
    expect(await problems(join(defaultBouncer, 'i.yml'), `${defaultBouncer}/`)).toEqual([
      'i.yml:4: cluster c: a: pg_pgbouncer_port (the default) and pg_port (line 4) are both 6432; PgBouncer and PostgreSQL cannot share a port',
    ]);
  });

  test('a one-host cluster cannot have a sync replica; pg_state: absent members do not count', async () => {
    const dir = tree({ 'i.yml': 'db:\n  vars:\n    pg_cluster: c\n    pg_sync_replicas: 1\n  hosts:\n    a:\n    b:\n      pg_state: absent\n' });
    expect(await problems(join(dir, 'i.yml'), `${dir}/`)).toEqual([
      'i.yml:4: cluster c: pg_sync_replicas is 1 but the cluster has no replica (members with pg_state: present: a); every write would wait for a standby that does not exist',
    ]);
  });

  test("only pg_* names are checked: other variables are the user's own; hosts without pg_cluster are not a cluster", async () => {
    const dir = tree({ 'i.yml': 'all:\n  vars:\n    pg_port: 5433\n    my_port: "anything"\n    pgsql_thing: 1\n  hosts:\n    web:\n' });
    const inv = await loadInventory(join(dir, 'i.yml'));
    expect(inv.hosts.get('web')!.vars).toMatchObject({ pg_port: 5433, my_port: 'anything' });
  });
});

describe('pg_* value rules', () => {
  test.each([
    ['pg_port', true, 'pg_port: must be a port number from 1 to 65535 (got true)'],
    ['pg_port', 0, 'pg_port: must be a port number from 1 to 65535 (got 0)'],
    ['pg_port', 5432.5, 'pg_port: must be a port number from 1 to 65535 (got 5432.5)'],
    ['pg_sync_replicas', '1', 'pg_sync_replicas: must be an integer, 0 or more (got "1", a string: write 1 without quotes)'],
    ['pg_sync_replicas', true, 'pg_sync_replicas: must be an integer, 0 or more (got true)'],
    ['pg_primary', 1, 'pg_primary: must be true or false (yes, no, on, off also do) (got 1)'],
    ['pg_primary', 'y', 'pg_primary: must be true or false (yes, no, on, off also do) (got "y")'],
    ['pg_cluster', 'Orders DB', 'pg_cluster: lowercase letters, digits, - and _ only (it names the Debian cluster) (got "Orders DB")'],
    ['pg_cluster', 5, 'pg_cluster: must be a string (got 5)'],
    ['pg_state', 'absnt', 'pg_state: must be one of present, absent (got "absnt"); did you mean absent?'],
    ['pg_pgbouncer_pool_mode', 'txn', 'pg_pgbouncer_pool_mode: must be one of session, transaction, statement (got "txn")'],
    ['pg_service_name', null, 'pg_service_name: has no value (give it one, or remove the line)'],
    ['pg_hba', 'host all all 0.0.0.0/0 trust', 'pg_hba: must be a list of pg_hba rules (got "host all all 0.0.0.0/0 trust")'],
    ['pg_hba', ['host all all 0.0.0.0/0 trust'], 'pg_hba.0: trust is never allowed; use scram-sha-256 (got "host all all 0.0.0.0/0 trust")'],
    ['pg_hba', ['host all'], 'pg_hba.0: must be a pg_hba.conf line: TYPE DATABASE USER [ADDRESS] METHOD (got "host all")'],
    ['pg_hba', [7], 'pg_hba.0: must be a pg_hba.conf line or a mapping {type, database, user, address, method} (got 7)'],
    [
      'pg_hba',
      [{ type: 'hots', method: 'scram-sha-256' }],
      'pg_hba.0.type: must be one of local, host, hostssl, hostnossl, hostgssenc, hostnogssenc (got "hots"); did you mean host?',
    ],
    ['pg_registry', { provider: 'dsn', zone: 'z' }, 'pg_registry.provider: must be one of dns, hosts, command, none (got "dsn")'],
    ['pg_registry', { zone: 'z' }, 'pg_registry.provider: is required: one of dns, hosts, command, none'],
    ['pg_registry', { provider: 'dns', zone: 'z' }, 'pg_registry.key_file: is required'],
    ['pg_registry', { provider: 'hosts', hosts: 'db', zone: 'z' }, 'pg_registry.zone: unknown key (it takes provider, hosts)'],
    ['pg_registry', 'dns', 'pg_registry: must be a mapping with a provider: dns, hosts, command or none (got "dns")'],
    ['pg_parameters', { 'shared buffers': '1GB' }, 'pg_parameters.shared buffers: is not a setting name (letters, digits and _, or ext.name)'],
    ['pg_parameters', { synchronous_standby_names: '*' }, 'pg_parameters.synchronous_standby_names: is set by pgtasks; set pg_sync_replicas instead'],
    ['pg_parameters', { wal_level: 'minimal' }, 'pg_parameters.wal_level: minimal cannot feed replicas; use replica or logical'],
    ['pg_parameters', ['a'], 'pg_parameters: must be a mapping of setting names to values (got ["a"])'],
    // pg_backup (issue 9): one provider so far, a repository host, retention and cron schedules.
    ['pg_backup', { repo_host: 'b1' }, 'pg_backup.provider: is required: one of pgbackrest'],
    ['pg_backup', { provider: 'barman', repo_host: 'b1' }, 'pg_backup.provider: must be one of pgbackrest (got "barman")'],
    ['pg_backup', { provider: 'pgbackrest' }, 'pg_backup.repo_host: is required'],
    [
      'pg_backup',
      { provider: 'pgbackrest', repo_host: 'b1', retention_full: 0 },
      'pg_backup.retention_full: must be an integer from 1 to 9999 (full backups kept) (got 0)',
    ],
    [
      'pg_backup',
      { provider: 'pgbackrest', repo_host: 'b1', schedule: { full: '0 1 * *' } },
      'pg_backup.schedule.full: must be a cron schedule of five fields, e.g. "0 1 * * 0" (minute hour day month weekday) (got "0 1 * *")',
    ],
    ['pg_backup', { provider: 'pgbackrest', repo_host: 'b1', schedule: { weekly: '0 1 * * 0' } }, 'pg_backup.schedule.weekly: unknown key'],
    ['pg_replica_source', 'repo', 'pg_replica_source: must be one of primary, backup (got "repo")'],
    ['pg_pgbouncr', true, 'pg_pgbouncr: unknown variable; did you mean pg_pgbouncer?'],
    ['pg_replicas', 2, "pg_replicas: unknown variable: pg_* names are pgtasks' own (the README lists them)"],
    // Users and databases: names are identifiers PostgreSQL takes unquoted, nothing it reserves.
    ['pg_users', [{ name: 'App' }], 'pg_users.0.name: must be lowercase letters, digits and _, starting with a letter or _ (at most 63) (got "App")'],
    [
      'pg_users',
      [{ name: 'a"; drop role admin; --' }],
      'pg_users.0.name: must be lowercase letters, digits and _, starting with a letter or _ (at most 63) (got "a\\"; drop role admin; --")',
    ],
    [
      'pg_users',
      [{ name: 'x'.repeat(64) }],
      `pg_users.0.name: must be lowercase letters, digits and _, starting with a letter or _ (at most 63) (got "${'x'.repeat(56)}...)`,
    ],
    ['pg_users', [{ name: 'pg_app' }], 'pg_users.0.name: role names starting with pg_ are reserved by PostgreSQL (got "pg_app")'],
    ['pg_users', [{ name: 'admin' }], 'pg_users.0.name: is reserved (PostgreSQL or pgtasks own it) (got "admin")'],
    ['pg_users', [{ name: 'public' }], 'pg_users.0.name: is reserved (PostgreSQL or pgtasks own it) (got "public")'],
    [
      'pg_users',
      [{ name: 'a', logn: true }],
      'pg_users.0.logn: unknown key; did you mean login? (it takes name, login, connection_limit, member_of, password_file, state, reassign_owned_to)',
    ],
    ['pg_users', [{ name: 'a' }, { name: 'a' }], 'pg_users.1.name: a is listed twice (also at [0])'],
    ['pg_users', [{ name: 'a', login: false, password_file: 'a.pw' }], 'pg_users.0.password_file: is for a role with login: true'],
    ['pg_users', [{ name: 'a', member_of: ['admin'] }], 'pg_users.0.member_of.0: is a superuser or replication role: a user may not join it (got "admin")'],
    ['pg_users', [{ name: 'a', reassign_owned_to: 'a' }], 'pg_users.0.reassign_owned_to: must be another role than the user itself'],
    [
      'pg_users',
      [{ name: 'a', connection_limit: '5' }],
      'pg_users.0.connection_limit: must be an integer, -1 (no limit) or more (got "5", a string: write 5 without quotes)',
    ],
    ['pg_users', { name: 'a' }, 'pg_users: must be a list of users {name, login, member_of, ...} (got {"name":"a"})'],
    [
      'pg_databases',
      [{ name: 'x; drop' }],
      'pg_databases.0.name: must be lowercase letters, digits and _, starting with a letter or _ (at most 63) (got "x; drop")',
    ],
    ['pg_databases', [{ name: 'template1' }], 'pg_databases.0.name: is one of PostgreSQL’s own databases (postgres, template0, template1) (got "template1")'],
    [
      'pg_databases',
      [{ name: 'd', grants: [{ role: 'r', privileges: 'all' }] }],
      'pg_databases.0.grants.0.privileges: must be one of connect, usage, read, write (got "all")',
    ],
    ['pg_databases', [{ name: 'd', grants: [{ role: 'r' }] }], 'pg_databases.0.grants.0.privileges: is required: one of connect, usage, read, write'],
    [
      'pg_databases',
      [{ name: 'd', grants: [{ role: 'r', privileges: 'read', schem: 'x' }] }],
      'pg_databases.0.grants.0.schem: unknown key; did you mean schema? (it takes role, privileges, schema)',
    ],
    [
      'pg_databases',
      [{ name: 'd', extensions: ['bad ext'] }],
      'pg_databases.0.extensions.0: must be an extension name (lowercase letters, digits, _ and -) (got "bad ext")',
    ],
    // pg_tls (issue 10): a boolean, or a mapping; named certificate files come as all three or none.
    ['pg_tls', 'maybe', 'pg_tls.enabled: must be true or false (yes, no, on, off also do) (got "maybe")'],
    ['pg_tls', 5, 'pg_tls: must be true, false or a mapping {enabled, ca_file, cert_file, key_file} (got 5)'],
    ['pg_tls', { enable: false }, 'pg_tls.enable: unknown key; did you mean enabled? (it takes enabled, ca_file, cert_file, key_file)'],
    ['pg_parameters', { ssl: 'off' }, 'pg_parameters.ssl: is set by pgtasks; set pg_tls instead'],
    ['pg_parameters', { ssl_cert_file: '/x.crt' }, 'pg_parameters.ssl_cert_file: is set by pgtasks; set pg_tls.cert_file instead'],
    ['pg_databases', [{ name: 'd', locale: "C'; x" }], 'pg_databases.0.locale: must be a locale name such as C.UTF-8 (got "C\'; x")'],
  ])('%s = %j', (name, value, message) => {
    expect(messages(name, value)).toEqual([message]);
  });

  test.each([
    ['pg_backup', { provider: 'pgbackrest', repo_host: 'b1' }],
    [
      'pg_backup',
      { provider: 'pgbackrest', repo_host: 'b1', retention_full: 4, schedule: { full: '0 1 * * 0', incr: '0 */4 * * *' }, encrypt: false, tls_port: 8433 },
    ],
    ['pg_replica_source', 'backup'],
    ['pg_tls', false],
    ['pg_tls', 'off'],
    ['pg_tls', { enabled: true }],
    ['pg_tls', { ca_file: 'tls/ca.crt', cert_file: 'tls/{host}.crt', key_file: 'tls/{host}.key' }],
    ['pg_primary', 'yes'],
    ['pg_primary', 'Off'],
    ['pg_primary', 'TRUE'],
    ['pg_pgbouncer', false],
    ['pg_parameters', { 'pg_stat_statements.track': 'all', max_connections: 200, jit: false }],
    ['pg_hba', ['local all all peer', { address: '10.0.0.0/8', method: 'scram-sha-256' }]],
    ['pg_registry', { provider: 'dns', zone: 'z', key_file: 'k' }],
    ['pg_version', 16],
    [
      'pg_users',
      [
        { name: 'app', member_of: ['readers', 'pg_read_all_data'], connection_limit: 20 },
        { name: 'readers', login: 'no' },
        { name: 'old', state: 'absent', reassign_owned_to: 'admin' },
      ],
    ],
    [
      'pg_databases',
      [
        {
          name: 'orders',
          owner: 'app',
          extensions: ['uuid-ossp'],
          grants: [
            { role: 'readers', privileges: 'read' },
            { role: 'app', privileges: 'write', schema: 'sales' },
          ],
        },
      ],
    ],
  ])('%s = %j is fine', (name, value) => {
    expect(messages(name, value)).toEqual([]);
  });

  test('did you mean: close names only', () => {
    expect(closest('pg_sync_replica', ['pg_sync_replicas', 'pg_port'])).toBe('pg_sync_replicas');
    expect(closest('pg_servicename', ['pg_service_name'])).toBe('pg_service_name');
    expect(closest('pg_prot', ['pg_port'])).toBe('pg_port');
    expect(closest('pg_replicas', ['pg_port', 'pg_primary', 'pg_sync_replicas'])).toBeUndefined();
  });
});

describe("relative paths in pg_* variables are the inventory folder's", () => {
  const files = {
    'inv/hosts.yml': 'db:\n  vars:\n    pg_cluster: c\n    pg_registry: { provider: dns, zone: z, key_file: keys/tsig.key }\n  hosts:\n    a:\n',
  };

  test('-i FILE: the folder of the file; the default ./credentials too', async () => {
    const dir = tree(files);
    const [spec] = clustersOf(await loadInventory(join(dir, 'inv/hosts.yml')));
    expect(spec!.credentialsDir).toBe(join(dir, 'inv', 'credentials'));
    expect(spec!.registry).toMatchObject({ key_file: join(dir, 'inv', 'keys', 'tsig.key') });
  });

  test('-i DIRECTORY: that directory, whatever the working directory', async () => {
    const dir = tree({ ...files, 'inv/group_vars/db.yml': 'pg_credentials_dir: ../secrets\n' });
    const cwd = process.cwd();
    process.chdir(tmpdir());
    try {
      const [spec] = clustersOf(await loadInventory(join(dir, 'inv')));
      expect(spec!.credentialsDir).toBe(join(dir, 'secrets'));
    } finally {
      process.chdir(cwd);
    }
  });

  test('absolute paths stay; ~/ is the home directory', async () => {
    const dir = tree({
      'i.yml': 'db:\n  vars:\n    pg_cluster: c\n    pg_credentials_dir: ~/pg-creds\n  hosts:\n    a:\n',
      'j.yml': 'db:\n  vars:\n    pg_cluster: c\n    pg_credentials_dir: /srv/creds\n  hosts:\n    a:\n',
    });
    expect(clustersOf(await loadInventory(join(dir, 'i.yml')))[0]!.credentialsDir).toBe(join(homedir(), 'pg-creds'));
    expect(clustersOf(await loadInventory(join(dir, 'j.yml')))[0]!.credentialsDir).toBe('/srv/creds');
  });

  test('the same folder written two ways is the same cluster-wide value', async () => {
    const dir = tree({});
    writeFileSync(
      join(dir, 'i.yml'),
      `db:\n  vars:\n    pg_cluster: c\n  hosts:\n    a:\n      pg_credentials_dir: ./credentials\n    b:\n      pg_credentials_dir: ${join(dir, 'credentials')}\n`,
    );
    expect(clustersOf(await loadInventory(join(dir, 'i.yml')))[0]!.credentialsDir).toBe(join(dir, 'credentials'));
  });
});

describe('no cluster to work on', () => {
  test('an empty inventory, and one without pg_cluster, are errors for the cluster functions', async () => {
    const empty = tree({ 'i.yml': '' });
    expect(() => clustersOf({ sources: [join(empty, 'i.yml')], hosts: new Map(), groups: new Map() })).toThrow(/i\.yml: the inventory has no hosts/);
    const web = tree({ 'i.yml': 'all:\n  hosts:\n    web1:\n    web2:\n' });
    const inv = await loadInventory(join(web, 'i.yml'));
    expect(() => clustersOf(inv)).toThrow(/i\.yml: no host has pg_cluster set \(2 hosts read\)/);
  });
});

describe('cluster-wide settings: the odd one out is reported where it is set', () => {
  test('pg_backup: its repo_host must be an inventory host that is not a member', async () => {
    const dir = tree({
      'i.yml': 'db:\n  vars:\n    pg_cluster: c\n    pg_backup: { provider: pgbackrest, repo_host: b9 }\n  hosts:\n    a:\n',
      'j.yml': 'db:\n  vars:\n    pg_cluster: c\n    pg_backup: { provider: pgbackrest, repo_host: b }\n  hosts:\n    a:\n    b:\n',
      'k.yml':
        'db:\n  vars:\n    pg_cluster: c\n    pg_backup: { provider: pgbackrest, repo_host: r }\n  hosts:\n    a:\nrepo:\n  hosts:\n    r:\n      ansible_host: 10.0.0.9\n',
    });
    expect(await problems(join(dir, 'i.yml'), `${dir}/`)).toEqual([
      'i.yml:4: cluster c: pg_backup.repo_host b9 is not a host of the inventory; add it (it needs no pg_* variable)',
    ]);
    expect(await problems(join(dir, 'j.yml'), `${dir}/`)).toEqual([
      'j.yml:4: cluster c: pg_backup.repo_host b is a PostgreSQL member (of cluster c); backups must live on a host of their own',
    ]);
    const [spec] = clustersOf(await loadInventory(join(dir, 'k.yml')));
    expect(spec!.backup).toMatchObject({ repo_host: 'r', repoAddress: '10.0.0.9', retention_full: 2, encrypt: true, tls_port: 8432, archive_timeout: 60 });
  });

  test('a member left with the default is reported at the line that made it a member', async () => {
    const dir = tree({
      'i.yml': 'db:\n  vars:\n    pg_cluster: c\n    pg_port: 5433\n  hosts:\n    a:\n    b:\nall:\n  hosts:\n    z:\n      pg_cluster: c\n',
    });
    expect(await problems(join(dir, 'i.yml'), `${dir}/`)).toEqual([
      'i.yml:11: cluster c: pg_port differs between a, b (5433, line 4) and z (5432, the default); it must be the same on every member of a cluster',
    ]);
  });

  test('the majority value is the reference, even when the first member is the odd one', async () => {
    const dir = tree({ 'i.ini': '[db]\na pg_version=15\nb\nc\n[db:vars]\npg_cluster=c\npg_version=16\n' });
    expect(await problems(join(dir, 'i.ini'), `${dir}/`)).toEqual([
      'i.ini:2: cluster c: pg_version differs between b, c (16, line 7) and a (15, line 2); it must be the same on every member of a cluster',
    ]);
  });
});
