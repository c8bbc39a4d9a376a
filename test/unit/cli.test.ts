import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { cli } from '../../src/cli/entry.js';
import type { Connection } from '../../src/connection/types.js';

const fixtures = fileURLToPath(new URL('../fixtures/cli/', import.meta.url));

async function call(argv: string[], connect?: (host: string) => Promise<Connection>) {
  let stdout = '';
  let stderr = '';
  const connections: string[] = [];
  const code = await cli(argv, {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    isTTY: false,
    cwd: fixtures,
    env: {},
    connector: async (host) => {
      connections.push(host);
      if (connect) return connect(host);
      throw new Error('no connection expected in this test');
    },
  });
  return { code, stdout, stderr, connections };
}

describe('pgtasks CLI', () => {
  test('--list shows every built-in task with its help', async () => {
    const r = await call(['--list']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/configure-cluster\s+Install, configure/);
    expect(r.stdout).toMatch(/facts\s+Connect to every host/);
    expect(r.stdout).toMatch(/inventory\s+Print the parsed inventory/);
  });

  test('--help TASK and TASK --help show usage, description and flags with defaults', async () => {
    for (const argv of [
      ['--help', 'configure-cluster'],
      ['configure-cluster', '--help'],
    ]) {
      const r = await call(argv);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/Usage: pgtasks configure-cluster/);
      expect(r.stdout).toMatch(/--cluster <cluster>\s+only this cluster/);
      expect(r.stdout).toMatch(/Refuses,\s+changing\s+nothing/);
    }
    const facts = await call(['--help', 'facts']);
    expect(facts.stdout).toMatch(/--hosts <hosts>.*\(default: "all"\)/);
  });

  test('global --help lists the global flags', async () => {
    const r = await call(['--help']);
    expect(r.code).toBe(0);
    for (const flag of ['--inventory', '--limit', '--check', '--diff', '--forks', '--verbose', '--json', '--tasks']) expect(r.stdout).toContain(flag);
  });

  test('--version', async () => {
    const r = await call(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  test('an unknown task is a one-line error with a suggestion, exit 2', async () => {
    const r = await call(['-i', 'two-hosts.yml', 'configure-clustr']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'configure-clustr'/);
    expect(r.stderr).toMatch(/Did you mean configure-cluster\?/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.connections).toEqual([]);
  });

  test('an unknown flag is an error with a suggestion, exit 2', async () => {
    const r = await call(['-i', 'two-hosts.yml', 'configure-cluster', '--clustr', 'x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown option '--clustr'/);
    expect(r.stderr).toMatch(/Did you mean --cluster\?/);
  });

  test('a bad inventory fails with file and path, exit 2, before any connection', async () => {
    const r = await call(['-i', `${fixtures}bad-port.yml`, 'facts']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad-port\.yml/);
    expect(r.stderr).toMatch(/ansible_port/);
    expect(r.connections).toEqual([]);
  });

  test('a missing inventory fails cleanly', async () => {
    const r = await call(['-i', `${fixtures}nope.yml`, 'facts']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/nope\.yml/);
  });

  test('unreachable hosts are reported, the others go on, the exit code is non-zero', async () => {
    const { UnreachableError } = await import('../../src/connection/types.js');
    const { LocalConnection } = await import('../../src/connection/local.js');
    const r = await call(['-i', `${fixtures}two-hosts.yml`, 'facts'], async (host) => {
      if (host === 'db2') throw new UnreachableError(host, 'connection refused');
      return new LocalConnection(host);
    });
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/ok: \[db1\] facts/);
    expect(r.stdout).toMatch(/fatal: \[db2\] connect UNREACHABLE: connection refused/);
    expect(r.stdout).toMatch(/db1 : ok=1 {2}changed=0 {2}unreachable=0/);
    expect(r.stdout).toMatch(/db2 : ok=0 {2}changed=0 {2}unreachable=1/);
    expect(r.stdout).not.toMatch(/\x1b\[/);
  });
});
