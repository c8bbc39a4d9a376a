import { describe, expect, test } from 'vitest';
import { DisplayFilter, displayOptions } from '../../src/cli/display.js';
import type { RunEvent } from '../../src/engine/events.js';

const ok = (task: string): RunEvent[] => [
  { type: 'task', task, check: false },
  { type: 'step', host: 'h1', step: 'install', status: 'ok', check: false },
  { type: 'step', host: 'h1', step: 'bootstrap', status: 'skipped', reason: 'x', check: false } as RunEvent,
  { type: 'step', host: 'h2', step: 'config: files', status: 'changed', check: false },
  { type: 'message', text: 'cluster demo: primary h1' },
];

function shown(env: NodeJS.ProcessEnv, verbose: boolean, events: RunEvent[]): string[] {
  const out: RunEvent[] = [];
  const filter = new DisplayFilter({ emit: (e) => out.push(e) }, displayOptions(env, false, verbose), new Set(['configure-cluster']));
  for (const e of events) filter.emit(e);
  return out.map((e) => (e.type === 'step' ? `${e.status} ${e.step}` : e.type));
}

describe('what a converging task shows (issue 11: readable with 30 hosts)', () => {
  test('configure-cluster: changes, messages (a line per cluster) and its banner; no ok or skipped lines', () => {
    expect(shown({}, false, ok('configure-cluster'))).toEqual(['task', 'changed config: files', 'message']);
  });
  test('-v shows every line', () => {
    expect(shown({}, true, ok('configure-cluster'))).toEqual(['task', 'ok install', 'skipped bootstrap', 'changed config: files', 'message']);
  });
  test('a task whose ok lines are its output (facts) shows them', () => {
    expect(shown({}, false, ok('facts'))).toEqual(['task', 'ok install', 'skipped bootstrap', 'changed config: files', 'message']);
  });
  test('PGTASKS_DISPLAY_OK_HOSTS=true shows them for configure-cluster too', () => {
    expect(shown({ PGTASKS_DISPLAY_OK_HOSTS: 'true' }, false, ok('configure-cluster'))).toContain('ok install');
  });
});
