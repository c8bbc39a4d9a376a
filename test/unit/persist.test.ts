import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import type { Command } from '../../src/connection/shell.js';
import type { CommandResult, HeldCommand } from '../../src/connection/types.js';
import { runPersistent } from '../../src/persist/client.js';
import { ConnectionPool, type Poolable } from '../../src/persist/pool.js';
import { persistDir, socketPath } from '../../src/persist/socket-path.js';

const scratch = mkdtempSync(join(tmpdir(), 'pgtasks-persist-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('where the persistent process listens', () => {
  test('its folder is made 0700 for this user; a folder others can enter is not used', () => {
    const mine = join(scratch, 'run-a');
    mkdirSync(mine);
    const dir = persistDir({ XDG_RUNTIME_DIR: mine })!;
    expect(dir).toBe(join(mine, `pgtasks-${process.getuid!()}`));
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const open = join(scratch, 'run-b');
    mkdirSync(join(open, `pgtasks-${process.getuid!()}`), { recursive: true });
    chmodSync(join(open, `pgtasks-${process.getuid!()}`), 0o755);
    expect(persistDir({ XDG_RUNTIME_DIR: open })).toBeUndefined();
  });

  test("one socket per environment: a shell's own bookkeeping (PWD, _, SHLVL) does not count, anything else does", () => {
    const env = { PATH: '/usr/bin', SSH_AUTH_SOCK: '/tmp/agent.1' };
    const base = socketPath('/run/x', env);
    expect(socketPath('/run/x', { ...env, PWD: '/srv', _: '/usr/bin/pgtasks', SHLVL: '3', OLDPWD: '/' })).toBe(base);
    expect(socketPath('/run/x', { ...env, SSH_AUTH_SOCK: '/tmp/agent.2' })).not.toBe(base);
    expect(socketPath('/run/x', { ...env, PGSSLMODE: 'require' })).not.toBe(base);
  });

  test('what another process cannot open, and team task files, run in the command itself', async () => {
    expect(await runPersistent(['-i', '/dev/fd/63', 'info-list'], 5)).toBeUndefined();
    expect(await runPersistent(['-i', '/proc/self/fd/0', 'info-list'], 5)).toBeUndefined();
    expect(await runPersistent(['--tasks', 'mine.ts', 'app-db'], 5)).toBeUndefined();
    expect(await runPersistent(['--tasks=mine.ts', 'app-db'], 5)).toBeUndefined();
  });
});

/** A connection that records what happens to it; `hold()` starts a command that runs until `finish()`. */
function fake(name: string) {
  let finish = () => {};
  const state = { closed: false, pings: 0, alive: true };
  const exited = new Promise<CommandResult>((resolve) => (finish = () => resolve({ code: 0, stdout: '', stderr: '' })));
  const held: HeldCommand = { stdout: '', onOutput: () => {}, write: () => {}, end: () => (finish(), exited), exited };
  const connection: Poolable = {
    host: name,
    get open() {
      return !state.closed;
    },
    ping: () => (state.pings++, Promise.resolve(state.alive)),
    run: () => Promise.resolve({ code: 0, stdout: '', stderr: '' }),
    put: () => Promise.resolve(),
    forward: () => Promise.reject(new Error('no')),
    start: (_c: Command) => Promise.resolve(held),
    close: () => ((state.closed = true), Promise.resolve()),
    destroy: () => void (state.closed = true),
  };
  return { connection, state, finish: () => finish() };
}

describe('the connection pool of the persistent process', () => {
  const vars = { ansible_host: '192.0.2.10', ansible_user: 'root', ssh_known_hosts_file: join(scratch, 'known_hosts') };

  function pool() {
    const made: ReturnType<typeof fake>[] = [];
    const p = new ConnectionPool(() => {
      const f = fake(`c${made.length}`);
      made.push(f);
      return Promise.resolve(f.connection);
    });
    return { p, made };
  }

  test('a run that ends clean gives its connection to the next run, which pings it first', async () => {
    const { p, made } = pool();
    const first = await p.lease().connector('h1', vars, {});
    await first.close();
    expect(p.size).toBe(1);
    const second = await p.lease().connector('h1', vars, {});
    expect(made).toHaveLength(1);
    expect(made[0]!.state.pings).toBe(1);
    await second.close();
  });

  test('a pooled connection that does not answer is closed and a new one opened', async () => {
    const { p, made } = pool();
    await (await p.lease().connector('h1', vars, {})).close();
    made[0]!.state.alive = false;
    await p.lease().connector('h1', vars, {});
    expect(made).toHaveLength(2);
    expect(made[0]!.state.closed).toBe(true);
  });

  test('a connection whose lock holder still runs is not handed on: it is closed', async () => {
    const { p, made } = pool();
    const c = await p.lease().connector('h1', vars, {});
    await c.start!('cat' as unknown as Command);
    await c.close(); // the holder never exits: after the settle time, closed rather than pooled
    expect(p.size).toBe(0);
    expect(made[0]!.state.closed).toBe(true);
  }, 5000);

  test('a lock holder that ends at release does not stop the connection from being pooled', async () => {
    const { p, made } = pool();
    const c = await p.lease().connector('h1', vars, {});
    const held = await c.start!('cat' as unknown as Command);
    void held.end();
    await c.close();
    expect(p.size).toBe(1);
    expect(made[0]!.state.closed).toBe(false);
  });

  test('the command went away (abort): every connection of its run closes at once, none is pooled, no new one opens', async () => {
    const { p, made } = pool();
    const lease = p.lease();
    const a = await lease.connector('h1', vars, {});
    const b = await lease.connector('h2', { ...vars, ansible_host: '192.0.2.11' }, {});
    lease.abort();
    expect(made.map((m) => m.state.closed)).toEqual([true, true]);
    await a.close();
    await b.close();
    expect(p.size).toBe(0);
    await expect(lease.connector('h3', vars, {})).rejects.toThrow(/stopped/);
  });

  test('a known_hosts file changed since: the pooled connection is closed, and the host key checked again on a new one', async () => {
    const { p, made } = pool();
    writeFileSync(vars.ssh_known_hosts_file, 'before\n');
    await (await p.lease().connector('h1', vars, {})).close();
    writeFileSync(vars.ssh_known_hosts_file, 'after, with another key\n');
    await (await p.lease().connector('h1', vars, {})).close();
    expect(made).toHaveLength(2);
    expect(made[0]!.state.closed).toBe(true);
    expect(p.size).toBe(1);
  });

  test('another user, port or key file is another connection', async () => {
    const { p, made } = pool();
    await (await p.lease().connector('h1', vars, {})).close();
    await (await p.lease().connector('h1', { ...vars, ansible_user: 'deploy' }, {})).close();
    await (await p.lease().connector('h1', { ...vars, ansible_port: 2222 }, {})).close();
    expect(made).toHaveLength(3);
    expect(p.size).toBe(3);
  });
});
