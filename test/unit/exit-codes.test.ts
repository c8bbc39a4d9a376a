import { existsSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { announceNewCluster } from '../../roles/cluster.js';
import { builtinTasks } from '../../tasks/index.js';
import { main } from '../../src/cli/program.js';
import { UnreachableError } from '../../src/connection/types.js';
import type { RunEvent } from '../../src/engine/events.js';
import { Run, sshConnector, type Connector } from '../../src/engine/run.js';
import { task, type Task } from '../../src/engine/task.js';
import { StepFailed } from '../../src/engine/step.js';
import { tempDir } from './helpers/tree.js';
import { announce as announceOf } from './helpers/announce.js';

const fixtures = fileURLToPath(new URL('../fixtures/cli/', import.meta.url));
const refuseAll: Connector = async () => {
  throw new Error('no connection expected in this test');
};

async function call(argv: string[], connector: Connector = refuseAll, extra: Task[] = []) {
  let stdout = '';
  let stderr = '';
  const connections: string[] = [];
  const code = await main(
    argv,
    {
      stdout: (t) => void (stdout += t),
      stderr: (t) => void (stderr += t),
      isTTY: false,
      cwd: fixtures,
      env: {},
      connector: async (host, vars, env) => {
        connections.push(host);
        return connector(host, vars, env);
      },
    },
    [...builtinTasks, ...extra] as Task[],
    '0.0.0',
  );
  return { code, stdout, stderr, connections };
}

const CLUSTER_TASKS = [['configure-cluster'], ['info-list'], ['migrate-to-master', '--target', 'db2'], ['failover', '--yes'], ['rejoin', '--host', 'db1']];

describe('a bad inventory: exit 2, every problem on its own line, before any connection, for every task', () => {
  test.each([...CLUSTER_TASKS, ['facts'], ['inventory', '--list']])('%s', async (...taskArgv) => {
    const r = await call(['-i', `${fixtures}bad-pg.yml`, ...taskArgv]);
    expect(r.code).toBe(2);
    expect(r.connections).toEqual([]);
    expect(r.stdout).toBe('');
    expect(r.stderr.split(fixtures).join('')).toBe(
      [
        'pgtasks: bad-pg.yml:6: pg_sync_replica: unknown variable; did you mean pg_sync_replicas?',
        'pgtasks: bad-pg.yml:7: pg_port: must be a port number from 1 to 65535 (got "5432", a string: write 5432 without quotes)',
        'pgtasks: bad-pg.yml:12: pg_primary: must be true or false (yes, no, on, off also do) (got "maybe")',
        '',
      ].join('\n'),
    );
  });
});

describe('no cluster in the inventory: exit 2 for every cluster task, nothing contacted', () => {
  test.each(CLUSTER_TASKS)('empty inventory: %s', async (...taskArgv) => {
    const r = await call(['-i', `${fixtures}empty.yml`, ...taskArgv]);
    expect(r.code).toBe(2);
    expect(r.connections).toEqual([]);
    expect(r.stderr).toBe(
      `pgtasks: ${fixtures}empty.yml: the inventory has no hosts; add the hosts of a cluster with pg_cluster set (see inventory/lab.yml)\n`,
    );
  });

  test.each(CLUSTER_TASKS)('no host with pg_cluster: %s', async (...taskArgv) => {
    const r = await call(['-i', `${fixtures}no-cluster.yml`, ...taskArgv]);
    expect(r.code).toBe(2);
    expect(r.connections).toEqual([]);
    expect(r.stderr).toMatch(/no-cluster\.yml: no host has pg_cluster set \(2 hosts read\), so there is no cluster to work on/);
  });
});

test('configure-cluster --limit matching no cluster member: exit 2, nothing contacted', async () => {
  const r = await call(['-i', `${fixtures}two-hosts.yml`, '-l', 'db*,!db*', 'configure-cluster']);
  expect(r.code).toBe(2);
  expect(r.connections).toEqual([]);
  expect(r.stderr).toBe('pgtasks: --limit db*,!db*: matches no host with pg_cluster\n');
});

describe('an unreachable host is exit 4 in every task', () => {
  const unreachable: Connector = async (host) => {
    throw new UnreachableError(host, 'connect ECONNREFUSED');
  };

  test.each([...CLUSTER_TASKS.filter((t) => t[0] !== 'failover'), ['facts']])('%s', async (...taskArgv) => {
    const r = await call(['-i', `${fixtures}two-hosts.yml`, ...taskArgv], unreachable);
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/); // no stack trace
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/fatal: \[db1\] connect UNREACHABLE: connect ECONNREFUSED/);
    // Nothing was generated for a cluster that was never reached.
    expect(existsSync(join(fixtures, 'credentials'))).toBe(false);
  });

  test('a role that connects by itself (not through onHosts) still counts the host, once', async () => {
    const direct = task({
      name: 'direct',
      help: 'connects to db1 twice by itself',
      args: z.object({}),
      async run(run) {
        for (let i = 0; i < 2; i++) await run.context('db1').catch(() => run.refuse('db1 is needed'));
      },
    });
    const r = await call(['-i', `${fixtures}two-hosts.yml`, 'direct'], unreachable, [direct as Task]);
    expect(r.code).toBe(4);
    expect(r.stdout.match(/UNREACHABLE/g)).toHaveLength(1);
  });

  test('an UnreachableError escaping a task is 4, with a one-line message', async () => {
    const escaping = task({
      name: 'escaping',
      help: 'lets the error through',
      args: z.object({}),
      async run(run) {
        await run.context('db2');
      },
    });
    const r = await call(['-i', `${fixtures}two-hosts.yml`, 'escaping'], unreachable, [escaping as Task]);
    expect(r.code).toBe(4);
    expect(r.stderr).toBe('pgtasks: db2: unreachable: connect ECONNREFUSED\n');
  });

  test('a failed step escaping a task (reported on its host already) is 2, with a one-line message and no stack', async () => {
    const failing = task({
      name: 'failing',
      help: 'a step fails and the task lets it through',
      args: z.object({}),
      async run() {
        throw new StepFailed('db1', 'failover: promote', 'recovery is not in progress');
      },
    });
    const r = await call(['-i', `${fixtures}two-hosts.yml`, 'failing'], refuseAll, [failing as Task]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('pgtasks: stopped: db1: failover: promote failed: recovery is not in progress\n');
  });
});

describe('a refused host key is unreachable too (a real SSH server on loopback)', () => {
  const { Server, utils } = ssh2;
  let server: InstanceType<typeof Server>;
  let port: number;
  beforeAll(async () => {
    const hostKey = utils.generateKeyPairSync('ed25519');
    server = new Server({ hostKeys: [hostKey.private] }, (client) => {
      client.on('authentication', (ctx) => ctx.reject());
      client.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => server.close());

  test.each([
    ['a changed key', true, /host key for \[127\.0\.0\.1\]:\d+ has CHANGED/],
    ['an unknown key under strict checking', false, /no host key for \[127\.0\.0\.1\]:\d+ in known_hosts/],
  ])('%s: exit 4', async (_, known, message) => {
    const dir = tempDir('pgtasks-hostkey-');
    const knownHosts = join(dir, 'known_hosts');
    writeFileSync(knownHosts, known ? `[127.0.0.1]:${port} ${utils.generateKeyPairSync('ed25519').public}\n` : '');
    writeFileSync(
      join(dir, 'inv.yml'),
      `all:\n  hosts:\n    h:\n      ansible_host: 127.0.0.1\n      ansible_port: ${port}\n      ansible_user: nobody\n      ssh_known_hosts_file: ${knownHosts}\n      ssh_host_key_checking: strict\n`,
    );
    const r = await call(['-i', join(dir, 'inv.yml'), 'facts'], sshConnector);
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/fatal: \[h\] connect UNREACHABLE: /);
    expect(r.stdout).toMatch(message);
  });
});

describe('Run.exitCode: 2 a host failed, else 4 a host unreachable, else 1 refused, else 0', () => {
  const run = () =>
    new Run(
      async () => ({ sources: [], hosts: new Map(), groups: new Map() }),
      { check: false, diff: false, verbose: false, forks: 1, json: false },
      { emit: () => {} },
    );
  const step = (host: string, status: 'failed' | 'unreachable' | 'ok'): RunEvent => ({ type: 'step', host, step: 's', status, check: false });

  test.each([
    ['nothing wrong', [], false, 0],
    ['a refusal', [], true, 1],
    ['an unreachable host and a refusal', [step('a', 'unreachable')], true, 4],
    ['an unreachable host', [step('a', 'ok'), step('b', 'unreachable')], false, 4],
    ['a failed host and an unreachable one', [step('a', 'unreachable'), step('b', 'failed')], true, 2],
  ] as [string, RunEvent[], boolean, number][])('%s: %s', (_, events, refused, code) => {
    const r = run();
    for (const e of events) r.emit(e);
    if (refused) r.refuse('no');
    expect(r.exitCode()).toBe(code);
  });

  test('a flagged condition (info-list: degraded) is 1', () => {
    const r = run();
    r.flag('cluster c is degraded');
    expect(r.exitCode()).toBe(1);
  });
});

describe('the creation result says how to connect and where the password is', () => {
  const PASSWORD = 'Zq8-not-a-real-password-xY';
  const cc = {
    spec: { name: 'orders', port: 5433, serviceName: 'orders-db.example', members: [], syncReplicas: 0, credentialsDir: '/srv/inv/credentials' },
    plan: { primary: { host: 'h1', address: '10.0.0.1' } },
    creds: { admin: PASSWORD, replicator: 'r', created: true, dir: '/srv/inv/credentials/orders' },
  } as unknown as Parameters<typeof announceNewCluster>[1];
  const announce = (json: boolean) => announceOf(cc, json);

  test('--json: host, port, user, dbname and the password file; never the password', () => {
    const out = announce(true);
    expect(out).not.toContain(PASSWORD);
    expect(JSON.parse(out)).toEqual({
      type: 'result',
      task: 'configure-cluster',
      data: {
        cluster: 'orders',
        host: 'orders-db.example',
        port: 5433,
        user: 'admin',
        dbname: 'postgres',
        passwordFile: '/srv/inv/credentials/orders/admin.password',
      },
    });
  });

  test('text: the password is printed, once, with where it is kept', () => {
    const out = announce(false);
    expect(out.split(PASSWORD)).toHaveLength(2);
    expect(out).toContain('psql "host=orders-db.example port=5433 user=admin dbname=postgres"');
    expect(out).toContain('(kept in /srv/inv/credentials/orders/admin.password, mode 0600; it is not shown again)');
  });
});
