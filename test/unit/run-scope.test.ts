import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { main, type ProgramIO } from '../../src/cli/program.js';
import { withBouncersPaused } from '../../src/cluster/pgbouncer-pause.js';
import { listenForSwitchoverInterrupt } from '../../src/cluster/switchover-interrupt.js';
import type { ClusterSpec } from '../../src/cluster/vars.js';
import type { RunEvent } from '../../src/engine/events.js';
import { detachedIO, type InterruptSignal } from '../../src/engine/run-io.js';
import { Run } from '../../src/engine/run.js';
import { registerSecret } from '../../src/engine/secrets.js';
import { task, type Task } from '../../src/engine/task.js';

/** Runs pgtasks in this process, as the tests do, with its own output and the given extra tasks. */
async function call(argv: string[], tasks: Task[], io: Partial<ProgramIO> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await main(
    argv,
    { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), isTTY: false, cwd: '/', env: {}, ...io },
    tasks,
    'test',
  );
  return { code, stdout, stderr };
}

const noInventoryTask = (name: string, run: (run: Run) => Promise<void>) =>
  task({ name, help: name, args: z.object({}), needsInventory: false, run: (r) => run(r) }) as unknown as Task;

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** A fake of the process's signals: what the program's injected io would be given by entry.ts. */
function fakeSignals() {
  const handlers = new Set<(s: InterruptSignal) => void>();
  const raised: InterruptSignal[] = [];
  return {
    handlers,
    raised,
    onInterrupt: (h: (s: InterruptSignal) => void) => {
      handlers.add(h);
      return () => void handlers.delete(h);
    },
    raise: (s: InterruptSignal) => void raised.push(s),
    deliver: (s: InterruptSignal) => [...handlers].forEach((h) => h(s)),
  };
}

describe('two runs in one process share no secrets', () => {
  const SECRET = 'alpha-s3cret-1234';

  // Run A registers the secret, then waits while run B (at the same time, same process) prints it.
  async function twoRuns(register: (run: Run, value: string) => void) {
    const registered = deferred();
    const bPrinted = deferred();
    const a = noInventoryTask('a', async (run) => {
      register(run, SECRET);
      registered.resolve();
      await bPrinted.promise;
      run.message(`A says ${SECRET}`);
      throw new Error(`A failed with ${SECRET}`);
    });
    const b = noInventoryTask('b', async (run) => {
      await registered.promise;
      run.message(`B says ${SECRET}`);
      bPrinted.resolve();
    });
    const [ra, rb] = await Promise.all([call(['a'], [a, b]), call(['b'], [a, b])]);
    return { ra, rb };
  }

  test('run.secrets.register masks in that run only', async () => {
    const { ra, rb } = await twoRuns((run, v) => void run.secrets.register(v));
    expect(ra.stdout).toContain('A says ********');
    expect(ra.stderr).toContain('A failed with ********');
    expect(ra.stdout + ra.stderr).not.toContain(SECRET);
    expect(rb.stdout).toContain(`B says ${SECRET}`);
  });

  test('the compatible registerSecret() registers into the calling run, not the process', async () => {
    const { ra, rb } = await twoRuns((_run, v) => void registerSecret(v));
    expect(ra.stdout).toContain('A says ********');
    expect(ra.stdout + ra.stderr).not.toContain(SECRET);
    expect(rb.stdout).toContain(`B says ${SECRET}`);
  });

  test('registerSecret() outside a task has no run to mask and says so', () => {
    expect(() => registerSecret('outside-secret')).toThrow(/outside a pgtasks task/);
  });

  test('each run has its own template environment', () => {
    const quiet = { check: false, diff: false, verbose: false, forks: 1, json: false };
    const make = () => new Run(async () => ({ sources: [], hosts: new Map(), groups: new Map() }), quiet, { emit: () => {} });
    expect(make().templates).not.toBe(make().templates);
  });
});

describe('Ctrl-C reaches the run through the injected io, never process.on', () => {
  test("a switchover's handler hears an interrupt given to the program's io: it calls the switchover off", async () => {
    const signals = fakeSignals();
    const seen: { abortedBefore?: boolean; abortedAfter?: boolean; listening?: number } = {};
    const t = noInventoryTask('switch', async (run) => {
      const interrupt = listenForSwitchoverInterrupt(run);
      seen.abortedBefore = interrupt.signal.aborted;
      signals.deliver('SIGINT');
      seen.abortedAfter = interrupt.signal.aborted;
      seen.listening = signals.handlers.size;
      interrupt.dispose();
    });
    const r = await call(['switch'], [t], { onInterrupt: signals.onInterrupt, raise: signals.raise });
    expect(r.code).toBe(0);
    expect(seen).toEqual({ abortedBefore: false, abortedAfter: true, listening: 1 });
    expect(signals.handlers.size).toBe(0);
  });

  test('once the old primary is stopping, an interrupt only says the switchover will finish', async () => {
    const signals = fakeSignals();
    const messages: string[] = [];
    const run = { io: detachedIO({ onInterrupt: signals.onInterrupt }), message: (m: string) => void messages.push(m) };
    const interrupt = listenForSwitchoverInterrupt(run);
    interrupt.stopping();
    signals.deliver('SIGTERM');
    expect(interrupt.signal.aborted).toBe(false);
    expect(messages).toEqual(['interrupt received: finishing the switchover safely, clients will be resumed']);
    interrupt.dispose();
    signals.deliver('SIGINT');
    expect(messages).toHaveLength(1);
  });

  test('with PgBouncer paused, an interrupt is held until clients are resumed, then raised through the io', async () => {
    const signals = fakeSignals();
    const events: RunEvent[] = [];
    const quiet = { check: false, diff: false, verbose: false, forks: 1, json: false };
    const run = new Run(
      async () => ({ sources: [], hosts: new Map(), groups: new Map() }),
      quiet,
      { emit: (e) => events.push(e) },
      undefined,
      detachedIO({ onInterrupt: signals.onInterrupt, raise: signals.raise }),
    );
    const spec = { name: 'demo', members: [], port: 5432, syncReplicas: 0, credentialsDir: '/nonexistent' } as unknown as ClusterSpec;
    const raisedInside = await withBouncersPaused(run, spec, { timeoutMs: 1000, password: 'unused', hosts: [] }, async () => {
      signals.deliver('SIGINT');
      return [...signals.raised];
    });
    expect(raisedInside).toEqual([]);
    expect(signals.raised).toEqual(['SIGINT']);
    expect(signals.handlers.size).toBe(0);
    expect(events).toContainEqual({ type: 'message', text: 'interrupt received: clients are resumed first' });
  });
});
