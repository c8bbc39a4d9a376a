import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { LocalConnection } from '../../src/connection/local.js';
import type { RunEvent } from '../../src/engine/events.js';
import { HostContext } from '../../src/engine/host-context.js';
import { Secrets } from '../../src/engine/secrets.js';
import { runStep, StepFailed } from '../../src/engine/step.js';
import { filesStep } from '../../src/steps/files.js';
import { step } from '../../src/engine/step.js';
import { reads } from '../../src/engine/host-view.js';
import { raw } from '../../src/connection/shell.js';
import { call } from '../../src/engine/action.js';
import { tempDir } from './helpers/tree.js';

function context(check = false, diff = false) {
  const events: RunEvent[] = [];
  const ctx = new HostContext('local', {}, new LocalConnection('local'), { emit: (e) => events.push(e) }, { check, diff, verbose: false }, new Secrets());
  return { ctx, events };
}

describe('steps: plan, then apply only what differs', () => {
  const dir = tempDir('pgtasks-steps-');
  const file = join(dir, 'app.conf');
  const spec = (content: string) => filesStep('config', () => [{ path: file, content, mode: '0640' }]);

  test('check mode reports the change and touches nothing', async () => {
    const { ctx, events } = context(true, true);
    expect(await runStep(ctx, spec('a = 1\n'))).toBe('changed');
    expect(() => statSync(file)).toThrow();
    const e = events.find((x) => x.type === 'step');
    expect(e).toMatchObject({ status: 'changed', check: true });
    expect(e && e.type === 'step' && e.diff).toContain('+a = 1');
  });

  test('apply writes content and mode; a second run is ok', async () => {
    const { ctx } = context();
    expect(await runStep(ctx, spec('a = 1\n'))).toBe('changed');
    expect(readFileSync(file, 'utf8')).toBe('a = 1\n');
    expect((statSync(file).mode & 0o777).toString(8)).toBe('640');
    expect(await runStep(context().ctx, spec('a = 1\n'))).toBe('ok');
  });

  test('a changed mode alone is a change', async () => {
    writeFileSync(file, 'a = 1\n', { mode: 0o644 });
    const { chmodSync } = await import('node:fs');
    chmodSync(file, 0o644);
    expect(await runStep(context().ctx, spec('a = 1\n'))).toBe('changed');
    expect((statSync(file).mode & 0o777).toString(8)).toBe('640');
  });

  test('secret files never show their content in a diff', async () => {
    const { ctx, events } = context(true, true);
    const s = filesStep('pgpass', () => [{ path: join(dir, 'pgpass'), content: 'hunter2-secret\n', secret: true, mode: '0600' }]);
    await runStep(ctx, s);
    const e = events.find((x) => x.type === 'step');
    expect(JSON.stringify(e)).not.toContain('hunter2-secret');
  });

  test('a change whose actions came to something else (a PAUSE called off) reports that, not its summary; --check keeps the summary', async () => {
    let calledOff = false;
    const pause = step('pause', async () => ({
      kind: 'change',
      summary: 'PgBouncer paused',
      actions: [call('PAUSE', async () => void (calledOff = true))],
      outcome: () => (calledOff ? 'PAUSE called off: every PgBouncer resumed' : undefined),
    }));
    const run = context();
    expect(await runStep(run.ctx, pause)).toBe('changed');
    expect(run.events.find((e) => e.type === 'step')).toMatchObject({ status: 'changed', message: 'PAUSE called off: every PgBouncer resumed' });
    calledOff = true; // as a real run would leave it: check mode runs no action, and shows the plan
    const check = context(true);
    await runStep(check.ctx, pause);
    expect(check.events.find((e) => e.type === 'step')).toMatchObject({ status: 'changed', message: 'PgBouncer paused' });
  });

  test('a failing step is reported failed with the command error, secrets masked', async () => {
    const { ctx, events } = context();
    ctx.secrets.register('sup3r-s3cret-value');
    const bad = step('boom', async (c) => {
      await c.read(reads(raw('echo "password sup3r-s3cret-value rejected" >&2; exit 3')));
      return { kind: 'ok' };
    });
    await expect(runStep(ctx, bad)).rejects.toBeInstanceOf(StepFailed);
    const e = events.find((x) => x.type === 'step');
    expect(e).toMatchObject({ status: 'failed', step: 'boom' });
    expect(JSON.stringify(e)).toContain('exit 3');
    expect(JSON.stringify(e)).not.toContain('sup3r-s3cret-value');
  });
});
