import { existsSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import type { ProgramIO } from '../cli/program.js';
import type { InterruptSignal } from '../engine/run-io.js';
import { ConnectionPool } from './pool.js';
import { receive, send, type ToProcess } from './protocol.js';

/**
 * The persistent process (client.ts starts it; PGTASKS_PERSIST=0 does without): it keeps node's loaded modules
 * and every host's SSH connection (with its command server) between runs, and runs each command's
 * arguments as the command itself would have (cli(), with the command's folder, environment, terminal
 * and signals), sending the output back. It ends PGTASKS_PERSIST seconds after its last command.
 * Started as `node dist/src/persist/main.js <socket> <idle seconds>`.
 */
async function serveOne(socket: Socket, pool: ConnectionPool): Promise<void> {
  const interrupts = new Set<(signal: InterruptSignal) => void>();
  let answer: ((text: string) => void) | undefined;
  const first = await new Promise<Extract<ToProcess, { t: 'run' }> | undefined>((resolve) => {
    receive<ToProcess>(socket, (m) => {
      if (m.t === 'run') resolve(m);
      else if (m.t === 'signal') for (const h of [...interrupts]) h(m.signal);
      else if (m.t === 'answer') answer?.(m.text);
    });
    socket.once('close', () => resolve(undefined));
  });
  if (!first) return;
  const lease = pool.lease();
  // The command went away before the run ended (killed, its terminal closed): the run stops as the
  // command's own death would have stopped it.
  const abort = () => lease.abort();
  socket.once('close', abort);
  const { cli } = await import('../cli/entry.js');
  const io: Partial<ProgramIO> = {
    stdout: (s) => send(socket, { t: 'out', s }),
    stderr: (s) => send(socket, { t: 'err', s }),
    isTTY: first.isTTY,
    columns: first.columns,
    env: first.env,
    cwd: first.cwd,
    pid: first.pid,
    connector: lease.connector,
    onInterrupt: (handler) => {
      interrupts.add(handler);
      if (interrupts.size === 1) send(socket, { t: 'trap', on: true });
      return () => {
        interrupts.delete(handler);
        if (interrupts.size === 0) send(socket, { t: 'trap', on: false });
      };
    },
    raise: (signal) => send(socket, { t: 'raise', signal }),
    ask: first.canAsk
      ? (q) =>
          new Promise<string>((resolve, reject) => {
            answer = resolve;
            socket.once('close', () => reject(new Error('the command went away')));
            send(socket, { t: 'ask', q });
          })
      : undefined,
  };
  let code: number;
  try {
    code = await cli(first.argv, io);
  } catch (err) {
    send(socket, { t: 'err', s: `pgtasks: ${(err as Error).stack ?? String(err)}\n` });
    code = 70;
  }
  socket.off('close', abort);
  send(socket, { t: 'exit', code });
  socket.end();
}

/** Whether a process answers on `path` (a socket file left by one that died does not). */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

export async function serve(path: string, idleMs: number): Promise<void> {
  const pool = new ConnectionPool();
  let active = 0;
  let idle: NodeJS.Timeout | undefined;
  const server = createServer((socket) => {
    active++;
    clearTimeout(idle);
    socket.on('error', () => {});
    void serveOne(socket, pool)
      .catch(() => {})
      .finally(() => {
        if (--active === 0) armIdle();
      });
  });
  const stop = async () => {
    server.close();
    await pool.closeAll();
    process.exit(0);
  };
  const armIdle = () => {
    clearTimeout(idle);
    idle = setTimeout(() => void stop(), idleMs);
  };
  // Two commands may start a process each at the same moment: the second finds the socket taken and ends.
  for (;;) {
    const listening = await new Promise<boolean>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' ? resolve(false) : reject(err)));
      server.listen(path, () => resolve(true));
    });
    if (listening) break;
    if (await answers(path)) process.exit(0);
    if (existsSync(path)) unlinkSync(path);
  }
  armIdle();
  process.on('SIGTERM', () => void stop());
}
