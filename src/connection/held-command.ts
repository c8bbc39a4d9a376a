import type { Readable, Writable } from 'node:stream';
import type { CommandResult, HeldCommand } from './types.js';

/**
 * The common half of Connection.start() for SSH channels and local child processes: collects
 * output, forwards writes to stdin, and settles `exited` once with the exit code.
 */
export function heldCommand(io: {
  stdin: Writable;
  stdout: Readable;
  stderr: Readable;
  onClose: (done: (code: number | null, signal?: string | null) => void) => void;
}): HeldCommand {
  let stdout = '';
  let stderr = '';
  let ended = false;
  const listeners: (() => void)[] = [];
  io.stdout.on('data', (d: Buffer) => {
    stdout += d.toString('utf8');
    for (const l of listeners) l();
  });
  io.stderr.on('data', (d: Buffer) => void (stderr += d.toString('utf8')));
  // Writing to a command that has already exited is not an error: `exited` says what happened.
  io.stdin.on('error', () => {});
  const exited = new Promise<CommandResult>((resolve) =>
    io.onClose((code, signal) => {
      ended = true;
      resolve({ code: code ?? (signal ? 128 : 255), stdout, stderr });
      for (const l of listeners) l();
    }),
  );
  return {
    get stdout() {
      return stdout;
    },
    onOutput: (listener) => void listeners.push(listener),
    write: (text) => {
      if (!ended) io.stdin.write(text);
    },
    end: (text) => {
      if (!ended) io.stdin.end(text ?? '');
      return exited;
    },
    exited,
  };
}
