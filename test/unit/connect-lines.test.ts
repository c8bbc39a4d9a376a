import { describe, expect, test } from 'vitest';
import { announceNewCluster } from '../../roles/cluster.js';
import { primaryAddressLines } from '../../src/cluster/connect-lines.js';
import { announce as announceOf } from './helpers/announce.js';

const primary = { host: 'h1', address: '10.231.0.11' };
const labRegistry = { provider: 'dns', server: '127.0.0.1', port: 15353, zone: 'lab.pgtasks.test', key_file: '/k', ttl: 5 } as const;

describe('the connection lines printed when a cluster is created work on the machine that printed them', () => {
  test("a service name only the lab's BIND knows: the name's line, then the primary's address and where the name is", () => {
    expect(primaryAddressLines({ serviceName: 'demo-db.lab.pgtasks.test', port: 5432, registry: labRegistry }, primary, 'admin')).toEqual([
      'Where demo-db.lab.pgtasks.test does not resolve (it is registered on the DNS server 127.0.0.1 port 15353), reach the primary h1 by its address:',
      '  psql "host=10.231.0.11 port=5432 user=admin dbname=postgres"',
    ]);
    expect(primaryAddressLines({ serviceName: 'orders-db', port: 5433, registry: { provider: 'hosts', hosts: 'app' } }, primary, 'admin')[0]).toBe(
      'Where orders-db does not resolve (it is registered in /etc/hosts of the hosts matching app), reach the primary h1 by its address:',
    );
  });

  test('no service name: the address line is the only line, nothing to add', () => {
    expect(primaryAddressLines({ port: 5432 }, primary, 'admin')).toEqual([]);
  });

  const cc = {
    spec: {
      name: 'demo',
      port: 5432,
      serviceName: 'demo-db.lab.pgtasks.test',
      registry: labRegistry,
      members: [],
      syncReplicas: 0,
      credentialsDir: '/w/credentials',
    },
    plan: { primary },
    creds: { admin: 'Zq8-not-a-real-password', replicator: 'r', created: true, dir: '/w/credentials/demo' },
  } as unknown as Parameters<typeof announceNewCluster>[1];
  const announce = (json: boolean) => announceOf(cc, json);

  test("announceNewCluster: two psql lines, each a complete command; the lab's address one connects from this machine", () => {
    const psql = announce(false)
      .split('\n')
      .filter((l) => l.startsWith('  psql '));
    expect(psql).toEqual([
      '  psql "host=demo-db.lab.pgtasks.test port=5432 user=admin dbname=postgres"',
      '  psql "host=10.231.0.11 port=5432 user=admin dbname=postgres"',
    ]);
  });

  test('--json keeps its data as it was: {cluster, host, port, user, dbname, passwordFile}', () => {
    expect(JSON.parse(announce(true))).toEqual({
      type: 'result',
      task: 'configure-cluster',
      data: {
        cluster: 'demo',
        host: 'demo-db.lab.pgtasks.test',
        port: 5432,
        user: 'admin',
        dbname: 'postgres',
        passwordFile: '/w/credentials/demo/admin.password',
      },
    });
  });
});
