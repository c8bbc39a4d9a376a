import type { Run } from '../engine/run.js';

/** What a switchover does with Ctrl-C (or SIGTERM), heard through the run's injected I/O. */
export interface SwitchoverInterrupt {
  /** Aborted by an interrupt that came before the old primary began to stop: the switchover is called off. */
  readonly signal: AbortSignal;
  /** From here on the old primary is stopping: an interrupt only says the switchover will finish. */
  stopping(): void;
  /** Stops listening (the interrupt takes its ordinary course again). */
  dispose(): void;
}

/**
 * Until the old primary is stopped, Ctrl-C calls the switchover off at once (clients resumed, the
 * preparation put back by the converge); once it is stopping, turning back would leave the cluster
 * without a primary, so the switchover finishes and clients are resumed on every path.
 */
export function listenForSwitchoverInterrupt(run: Pick<Run, 'io' | 'message'>): SwitchoverInterrupt {
  const abort = new AbortController();
  let stopping = false;
  const dispose = run.io.onInterrupt(() =>
    stopping ? run.message('interrupt received: finishing the switchover safely, clients will be resumed') : abort.abort(),
  );
  return {
    signal: abort.signal,
    stopping: () => void (stopping = true),
    dispose,
  };
}
