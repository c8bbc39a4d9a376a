import { spawn } from 'node:child_process';
import { existsSync, unlinkSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TASK_FILE_NAMES } from '../cli/task-files.js';
import { receive, send, type ToCommand } from './protocol.js';
import { persistDir, socketPath } from './socket-path.js';

/**
 * The command hands its arguments to a persistent pgtasks process of this user (server.ts), started on
 * first use and ending after PGTASKS_PERSIST idle seconds (60 unless set; 0 turns it off). That process keeps
 * node's loaded modules and every host's SSH connection and command server between runs, as Ansible's
 * ControlPersist keeps its SSH connections: a run then costs node's start-up, the run's own round trips
 * and its plan, not the module loading, the SSH handshakes or the hosts' shell start-up files again.
 * Returns undefined when it cannot be used (the caller then runs in this process, as without it).
 */
export async function runPersistent(argv: string[], seconds: number): Promise<number | undefined> {
  // A path only this process can open (a pipe, process substitution) means nothing to another process.
  if (argv.some((a) => /^\/(dev\/(fd\/|stdin)|proc\/self\/)/.test(a) || a === '-')) return undefined;
  // A team's task file is loaded once per process (jiti's module cache): a persistent process would
  // keep running the version it loaded first, whatever the team edits. Those runs stay in this process.
  if (argv.some((a) => a === '--tasks' || a.startsWith('--tasks=')) || TASK_FILE_NAMES.some((n) => existsSync(join(process.cwd(), n)))) return undefined;
  let socket: Socket | undefined;
  try {
    const dir = persistDir(process.env);
    if (!dir) return undefined;
    const path = socketPath(dir, process.env);
    socket = (await open(path)) ?? (await start(path, seconds));
  } catch {
    return undefined; // nothing was sent: the run happens here instead
  }
  return socket ? talk(socket, argv) : undefined;
}

function open(path: string): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => resolve(s));
    s.once('error', () => resolve(undefined));
  });
}

/** Starts the process (detached: the command's Ctrl-C and terminal are not its own) and waits for its socket. */
async function start(path: string, seconds: number): Promise<Socket | undefined> {
  if (existsSync(path)) unlinkSync(path); // left by a process that died: nothing answers on it
  const main = fileURLToPath(new URL('./main.js', import.meta.url));
  spawn(process.execPath, [main, path, String(seconds)], { detached: true, stdio: 'ignore', cwd: '/', env: process.env }).unref();
  for (let waited = 0; waited < 5000; waited += 10) {
    await new Promise((r) => setTimeout(r, 10));
    const s = await open(path);
    if (s) return s;
  }
  return undefined;
}

function talk(socket: Socket, argv: string[]): Promise<number> {
  const env = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));
  send(socket, {
    t: 'run',
    argv,
    cwd: process.cwd(),
    env,
    pid: process.pid,
    isTTY: !!process.stdout.isTTY,
    columns: process.stdout.isTTY ? process.stdout.columns : undefined,
    canAsk: !!process.stdin.isTTY,
  });
  const forward = (signal: 'SIGINT' | 'SIGTERM') => send(socket, { t: 'signal', signal });
  const trap = (on: boolean) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.removeAllListeners(signal);
      if (on) process.on(signal, forward);
    }
  };
  return new Promise((resolve) => {
    let exited = false;
    receive<ToCommand>(socket, (m) => {
      switch (m.t) {
        case 'out':
          process.stdout.write(m.s);
          break;
        case 'err':
          process.stderr.write(m.s);
          break;
        case 'trap':
          trap(m.on);
          break;
        case 'raise':
          trap(false);
          process.kill(process.pid, m.signal);
          break;
        case 'ask':
          void import('node:readline/promises').then(async ({ createInterface }) => {
            const rl = createInterface({ input: process.stdin, output: process.stderr });
            const text = await rl.question(m.q).finally(() => rl.close());
            send(socket, { t: 'answer', text });
          });
          break;
        case 'exit':
          exited = true;
          resolve(m.code);
          break;
      }
    });
    socket.once('close', () => {
      if (exited) return;
      process.stderr.write('pgtasks: the persistent pgtasks process ended during the run (PGTASKS_PERSIST); its hosts may need a re-run\n');
      resolve(70);
    });
  });
}
