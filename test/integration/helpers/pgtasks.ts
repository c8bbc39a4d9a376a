import { appendFileSync } from 'node:fs';
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
  const log = process.env.PGTASKS_TEST_LOG;
  if (log) appendFileSync(log, `\n### pgtasks ${argv.join(' ')}\n`);
  const code = await cli(['--json', ...argv], {
    // PGTASKS_TEST_LOG=file: every event as it comes, to see where a run that never ends stopped.
    stdout: (t) => void ((stdout += t), log && appendFileSync(log, t)),
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

/** "host: step: message" of every changed step, from a run's events (an in-process CliResult or a spawned CliRun). */
export function changedSteps(r: Pick<CliResult, 'events'>): string[] {
  return r.events.flatMap((e) => (e.type === 'step' && e.status === 'changed' ? [`${e.host}: ${e.step}: ${e.message ?? ''}`] : []));
}

// Polling for a condition, never a fixed sleep: eventually returns the last value, waitFor throws past its bound.
export { eventually, waitFor } from '../../lab/poll.js';
