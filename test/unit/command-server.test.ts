import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { afterEach, describe, expect, test } from 'vitest';
import { CommandServer, serverCommand, serverNonce } from '../../src/connection/command-server.js';

const servers: CommandServer[] = [];

async function waitUntil(ok: () => boolean, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; !ok();) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A server started the way an SSH exec starts one (`sh -c <command>`), on this machine; `noise` runs first, as a .bashrc would. */
function open(noise = '', readyTimeoutMs?: number): CommandServer {
  const nonce = serverNonce();
  const child = spawn('sh', ['-c', `${noise}${serverCommand(nonce)}`], { stdio: ['pipe', 'pipe', 'inherit'] });
  const server = new CommandServer(nonce, child.stdin, child.stdout, (done) => child.on('close', done), readyTimeoutMs);
  servers.push(server);
  return server;
}

describe('command server: one process per host runs every command', () => {
  afterEach(() => {
    for (const s of servers.splice(0)) s.close();
  });

  test('exit codes, stdout and stderr apart, stdin delivered', async () => {
    const server = open();
    expect(await server.ready).toBe(true);
    expect(await server.run('echo out; echo err >&2; exit 3')).toEqual({ code: 3, stdout: 'out\n', stderr: 'err\n' });
    expect(await server.run('cat', 'some input\n')).toEqual({ code: 0, stdout: 'some input\n', stderr: '' });
    expect((await server.run('kill -TERM $$')).code).toBe(128 + 15);
  });

  test('what a start-up file prints before the server is skipped', async () => {
    const server = open('echo "Welcome to pyenv"; echo "@@pgtasks-server-ready wrong"; ');
    expect(await server.ready).toBe(true);
    expect((await server.run('echo ok')).stdout).toBe('ok\n');
  });

  test('large stdin and output, lengths in bytes (UTF-8)', async () => {
    const server = open();
    await server.ready;
    const big = 'é'.repeat(200_000) + '\n';
    expect((await server.run('cat', big)).stdout).toBe(big);
    expect((await server.run('head -c 300000 /dev/zero | wc -c')).stdout.trim()).toBe('300000');
  });

  test('commands run at the same time', async () => {
    const server = open();
    await server.ready;
    const t0 = Date.now();
    const all = await Promise.all(Array.from({ length: 8 }, (_, i) => server.run(`sleep 0.3; echo ${i}`)));
    expect(all.map((r) => r.stdout.trim())).toEqual(['0', '1', '2', '3', '4', '5', '6', '7']);
    expect(Date.now() - t0).toBeLessThan(2000); // one after the other: 2.4 s
  });

  test('a timeout kills the command (its process group), and the server goes on', async () => {
    const server = open();
    await server.ready;
    await expect(server.run('sleep 31.5', '', 200)).rejects.toThrow(/timed out after 200 ms/);
    await new Promise((r) => setTimeout(r, 200));
    expect((await server.run('pgrep -f "^sleep 31.5$" || echo none')).stdout.trim()).toBe('none');
    expect((await server.run('echo still')).stdout).toBe('still\n');
  });

  test('a daemon that keeps the output open does not hold its command for more than ~2 s', async () => {
    const server = open();
    await server.ready;
    const t0 = Date.now();
    expect((await server.run('(sleep 10.5 &) ; echo started')).stdout).toBe('started\n');
    expect(Date.now() - t0).toBeLessThan(5000);
    await server.run('pkill -f "^sleep 10.5$" || true');
  });

  test('a server that cannot start (no perl, a closed channel): not ready, and commands fail instead of hanging', async () => {
    const nonce = serverNonce();
    const child = spawn('sh', ['-c', 'exit 0'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const server = new CommandServer(nonce, child.stdin, child.stdout, (done) => child.on('close', done), 2000);
    expect(await server.ready).toBe(false);
    await expect(server.run('echo')).rejects.toThrow(/not running/);
  });

  test('a held command: stdin stays open for writes, output comes as it is printed, end() closes stdin and gives the exit', async () => {
    const server = open();
    await server.ready;
    const held = server.start('echo ready; while read -r l; do echo "got $l"; [ "$l" = bye ] && { echo gone >&2; exit 4; }; done; exit 9');
    await waitUntil(() => held.stdout === 'ready\n');
    held.write('one\n');
    await waitUntil(() => held.stdout.includes('got one\n'));
    // Other commands run beside it, and a write to it after a command ended it is no error.
    expect((await server.run('echo beside')).stdout).toBe('beside\n');
    held.write('bye\n');
    expect(await held.exited).toEqual({ code: 4, stdout: 'ready\ngot one\ngot bye\n', stderr: 'gone\n' });
    held.write('late\n');
    expect((await server.run('echo still')).stdout).toBe('still\n');
    // end(): stdin closes, the loop ends, its exit status comes back.
    const second = server.start('cat; exit 2');
    expect(await second.end('last\n')).toMatchObject({ code: 2, stdout: 'last\n' });
  });

  test('a held command reads end-of-file when the server goes away (the connection dropped), as on an SSH channel', async () => {
    const server = open();
    await server.ready;
    const marker = `/tmp/pgtasks-held-${process.pid}-${Date.now()}`;
    const held = server.start(`while read -r l; do :; done; touch ${marker}`);
    await new Promise((r) => setTimeout(r, 100));
    server.close();
    await held.exited;
    await waitUntil(() => existsSync(marker));
    rmSync(marker, { force: true });
  });

  test('a command running when the server goes away fails at once', async () => {
    const server = open();
    await server.ready;
    const pending = server.run('sleep 20');
    server.close();
    await expect(pending).rejects.toThrow(/went away/);
  });
});
