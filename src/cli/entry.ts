import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { builtinTasks } from '../../tasks/index.js';
import type { InterruptSignal } from '../engine/run-io.js';
import { main, type ProgramIO } from './program.js';

function packageVersion(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      return (JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      /* try the next layout: running from src/ (tests) or from dist/src/ (installed) */
    }
  }
  return 'unknown';
}

/** Ctrl-C and SIGTERM of the real process: while `handler` is registered, they do not end it. */
function onInterrupt(handler: (signal: InterruptSignal) => void): () => void {
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

/** A question on the terminal, answered on stdin (prompt on stderr, so stdout stays the output). */
async function ask(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await rl.question(question);
  } finally {
    rl.close();
  }
}

/**
 * The real process's side of the CLI, and the only place (with bin/pgtasks.js) that reads `process`:
 * the run gets all of it through this io. Tests call main() (or this, overriding parts) with their own.
 */
export function cli(argv: string[], io: Partial<ProgramIO> = {}): Promise<number> {
  return main(
    argv,
    {
      stdout: (t) => process.stdout.write(t),
      stderr: (t) => process.stderr.write(t),
      isTTY: !!process.stdout.isTTY,
      columns: process.stdout.isTTY ? process.stdout.columns : undefined,
      env: process.env,
      cwd: process.cwd(),
      pid: process.pid,
      onInterrupt,
      raise: (signal) => process.kill(process.pid, signal),
      alive: (pid) => {
        try {
          process.kill(pid, 0);
          return true;
        } catch (err) {
          return (err as NodeJS.ErrnoException).code === 'EPERM';
        }
      },
      ask: process.stdin.isTTY ? ask : undefined,
      ...io,
    },
    builtinTasks,
    packageVersion(),
  );
}
