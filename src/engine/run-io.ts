/**
 * What a run needs from the process it runs in, injected by the program (src/cli/entry.ts gives the
 * real process's; tests give fakes). Nothing under src/engine, src/cluster, roles/ or tasks/ reads
 * `process.*`: two runs in one process each get their own, and a test can deliver Ctrl-C.
 */
export type InterruptSignal = 'SIGINT' | 'SIGTERM';

export interface RunIO {
  /** The environment pgtasks was started with (SSH_AUTH_SOCK, the registry command's environment). */
  env: NodeJS.ProcessEnv;
  /** This process's id, for the lock holder's description and per-run file names on hosts. */
  pid: number;
  /**
   * Calls `handler` on Ctrl-C (SIGINT) or SIGTERM until the returned function is called. While a
   * handler is registered the signal does not end the process: the handler decides what happens.
   */
  onInterrupt(handler: (signal: InterruptSignal) => void): () => void;
  /** Gives a signal held off by a handler its ordinary course (ends the process), once the handler is gone. */
  raise(signal: InterruptSignal): void;
  /** Whether a process of this machine runs (a lock left by a run of this machine that died); unknown when absent. */
  alive?: (pid: number) => boolean;
  /** Asks a question on the terminal and returns the answer; undefined when there is no terminal to ask on. */
  ask?: (question: string) => Promise<string>;
}

/** For a run built in code (tests): no signals, no terminal, an empty environment. */
export function detachedIO(overrides: Partial<RunIO> = {}): RunIO {
  return { env: {}, pid: 0, onInterrupt: () => () => {}, raise: () => {}, ...overrides };
}
