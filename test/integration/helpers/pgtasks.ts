import { cli } from '../../../src/cli/entry.js';
import type { HostStats, RunEvent } from '../../../src/engine/events.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  events: RunEvent[];
  recap: Record<string, HostStats>;
}

/** Runs pgtasks in-process with --json and returns its events, as a script using `pgtasks --json` would. */
export async function pgtasks(argv: string[], cwd = process.cwd()): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await cli(['--json', ...argv], {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    isTTY: false,
    cwd,
    env: {},
  });
  const events = stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as RunEvent);
  const recapEvent = events.find((e) => e.type === 'recap');
  return { code, stdout, stderr, events, recap: recapEvent && recapEvent.type === 'recap' ? recapEvent.hosts : {} };
}

export function changedSteps(r: CliResult): string[] {
  return r.events.flatMap((e) => (e.type === 'step' && e.status === 'changed' ? [`${e.host}: ${e.step}: ${e.message ?? ''}`] : []));
}

export async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 250));
  }
}
