import { appendFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunEvent } from '../../../src/engine/events.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const bin = join(repo, 'bin/pgtasks.js');

export interface CliRun {
  pid: number;
  events: RunEvent[];
  /** Resolves on the first event matching `match` (or undefined if the run ends first). */
  waitFor(match: (e: RunEvent) => boolean, timeoutMs?: number): Promise<RunEvent | undefined>;
  kill(): void;
  signal(s: NodeJS.Signals): void;
  done: Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>;
}

/**
 * The built CLI (dist/) as a separate process, as a user would run it, for tests that SIGKILL or
 * SIGINT it: --json -v so every step and every command sent is an event, read as it comes.
 */
export function spawnPgtasks(args: string[], env: NodeJS.ProcessEnv = {}): CliRun {
  const child = spawn(process.execPath, [bin, '--json', '-v', ...args], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const events: RunEvent[] = [];
  const waiters: { match: (e: RunEvent) => boolean; resolve: (e: RunEvent | undefined) => void }[] = [];
  let stdout = '';
  let stderr = '';
  let partial = '';
  const log = process.env.PGTASKS_TEST_LOG;
  if (log) appendFileSync(log, `\n### pgtasks (pid ${child.pid}) ${args.join(' ')}\n`);
  child.stdout.on('data', (d: Buffer) => {
    stdout += d;
    // PGTASKS_TEST_LOG=file: every event as it comes, to see where a run that never ends stopped.
    if (log) appendFileSync(log, d);
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      const e = JSON.parse(line) as RunEvent;
      events.push(e);
      for (const w of waiters.splice(0)) {
        if (w.match(e)) w.resolve(e);
        else waiters.push(w);
      }
    }
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  const done = new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => {
      for (const w of waiters.splice(0)) w.resolve(undefined);
      resolve({ code, signal, stdout, stderr });
    }),
  );
  return {
    pid: child.pid!,
    events,
    waitFor: (match, timeoutMs = 30_000) => {
      const seen = events.find(match);
      if (seen) return Promise.resolve(seen);
      if (child.exitCode !== null || child.signalCode) return Promise.resolve(undefined);
      // Bounded: a run that never gets there must not hang the test file (and its lab) with it.
      return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(undefined), timeoutMs);
        waiters.push({ match, resolve: (e) => (clearTimeout(timer), resolve(e)) });
      });
    },
    kill: () => child.kill('SIGKILL'),
    signal: (s: NodeJS.Signals) => child.kill(s),
    done,
  };
}
