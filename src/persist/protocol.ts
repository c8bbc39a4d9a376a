import type { Socket } from 'node:net';

/**
 * What a pgtasks command and its persistent process (server.ts) say to each other over the unix
 * socket: one JSON object per line. The command sends its arguments, working directory and
 * environment, then signals and answers; the process sends output, questions and the exit code.
 */
export type ToProcess =
  | { t: 'run'; argv: string[]; cwd: string; env: Record<string, string>; pid: number; isTTY: boolean; columns?: number; canAsk: boolean }
  | { t: 'signal'; signal: 'SIGINT' | 'SIGTERM' }
  | { t: 'answer'; text: string };

export type ToCommand =
  | { t: 'out'; s: string }
  | { t: 'err'; s: string }
  /** The run wants Ctrl-C and SIGTERM passed on (on) or the command's default, dying (off). */
  | { t: 'trap'; on: boolean }
  | { t: 'ask'; q: string }
  | { t: 'raise'; signal: 'SIGINT' | 'SIGTERM' }
  | { t: 'exit'; code: number };

export function send(socket: Socket, message: ToProcess | ToCommand): void {
  if (!socket.destroyed) socket.write(`${JSON.stringify(message)}\n`);
}

/** Calls `on` with each message that arrives on `socket`. */
export function receive<T>(socket: Socket, on: (message: T) => void): void {
  let buffer = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (!line) continue;
      let message: T;
      try {
        message = JSON.parse(line) as T;
      } catch {
        continue; // not ours (only this user can reach the socket): ignored, not a crash of every run
      }
      on(message);
    }
  });
}
