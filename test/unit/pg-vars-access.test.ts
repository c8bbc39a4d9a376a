// The pg_* variables of issue 10 (users, databases, TLS); the rest are in pg-vars.test.ts.
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { clustersOf } from '../../src/cluster/vars.js';
import { loadInventory } from '../../src/inventory/index.js';

import { messages, problems, tree } from './helpers/pg-vars-problems.js';

describe('pg_users and pg_databases: cluster-wide, checked together, paths resolved', () => {
  const users = (extra: string) =>
    [
      'db:',
      '  vars:',
      '    pg_cluster: c',
      '    pg_users:',
      '      - { name: app_owner_with_a_long_name, member_of: [readers] }',
      '      - { name: readers, login: false }',
      '      - { name: old, state: absent, reassign_owned_to: readers }',
      '    pg_databases:',
      '      - { name: orders, owner: old, grants: [{ role: old, privileges: read }] }',
      '  hosts:',
      '    a:',
      '    b:',
      extra,
      '',
    ].join('\n');

  test('a database owned by, or granted to, a user the inventory drops: at its line', async () => {
    const dir = tree({ 'i.yml': users('') });
    expect(await problems(join(dir, 'i.yml'), `${dir}/`)).toEqual([
      'i.yml:8: cluster c: pg_databases: orders is owned by old, which has state: absent in pg_users',
      'i.yml:8: cluster c: pg_databases: orders grants read to old, which has state: absent in pg_users',
    ]);
  });

  test('a host whose pg_users differs late in a long list is the odd one out (compared whole, not by the shortened text)', async () => {
    const dir = tree({
      'i.yml': users('      pg_users: [{ name: app_owner_with_a_long_name, member_of: [readers] }, { name: readers, login: false }]').replace(
        / {4}pg_databases:\n.*\n/,
        '',
      ),
    });
    const lines = await problems(join(dir, 'i.yml'), `${dir}/`);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^i\.yml:11: cluster c: pg_users differs between a \(.*, line 4\) and b \(.*, line 11\); it must be the same on every member of a cluster$/,
    );
  });

  test("password_file is relative to the inventory's folder", async () => {
    const dir = tree({ 'inv/hosts.yml': 'db:\n  vars:\n    pg_cluster: c\n    pg_users: [{ name: app, password_file: secrets/app.pw }]\n  hosts:\n    a:\n' });
    const [spec] = clustersOf(await loadInventory(join(dir, 'inv/hosts.yml')));
    expect(spec!.members[0]!.vars.pg_users).toEqual([
      { name: 'app', login: true, connection_limit: -1, member_of: [], password_file: join(dir, 'inv', 'secrets', 'app.pw'), state: 'present' },
    ]);
  });
});

describe('pg_tls: on by default, cluster-wide, named files resolved', () => {
  test('default on; false and the boolean words turn it off', async () => {
    const dir = tree({ 'i.yml': 'db:\n  vars:\n    pg_cluster: c\n  hosts:\n    a:\n    b:\n      pg_cluster: d\n      pg_tls: no\n' });
    const specs = clustersOf(await loadInventory(join(dir, 'i.yml')));
    expect(specs.map((s) => [s.name, s.members[0]!.vars.pg_tls])).toEqual([
      ['c', { enabled: true }],
      ['d', { enabled: false }],
    ]);
  });

  test('certificate files: all three or none, only when enabled; relative to the inventory folder, {host} kept', async () => {
    expect(messages('pg_tls', { cert_file: 'a.crt' })).toEqual([
      'pg_tls.ca_file: is required with cert_file (the inventory names all three, or none: pgtasks makes them)',
      'pg_tls.key_file: is required with cert_file (the inventory names all three, or none: pgtasks makes them)',
    ]);
    expect(messages('pg_tls', { enabled: false, ca_file: 'c', cert_file: 'a', key_file: 'k' })).toEqual(['pg_tls.ca_file: is for enabled: true']);
    const dir = tree({
      'inv/hosts.yml':
        'db:\n  vars:\n    pg_cluster: c\n    pg_tls: { ca_file: tls/ca.crt, cert_file: "tls/{host}.crt", key_file: "/etc/k/{host}.key" }\n  hosts:\n    a:\n',
    });
    const [spec] = clustersOf(await loadInventory(join(dir, 'inv/hosts.yml')));
    expect(spec!.members[0]!.vars.pg_tls).toEqual({
      enabled: true,
      ca_file: join(dir, 'inv', 'tls', 'ca.crt'),
      cert_file: join(dir, 'inv', 'tls', '{host}.crt'),
      key_file: '/etc/k/{host}.key',
    });
  });

  test('a member with TLS off in a cluster with it on is the odd one out, at its line', async () => {
    const dir = tree({ 'i.yml': 'db:\n  vars:\n    pg_cluster: c\n  hosts:\n    a:\n    b:\n    c:\n      pg_tls: false\n' });
    const lines = await problems(join(dir, 'i.yml'), `${dir}/`);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^i\.yml:8: cluster c: pg_tls differs between .*; it must be the same on every member of a cluster$/);
  });
});
