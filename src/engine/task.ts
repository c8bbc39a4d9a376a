import type { z } from 'zod';
import type { Run } from './run.js';

/**
 * A task: a name, a one-line help, a typed argument schema (its CLI contract, as a Python signature is
 * for invoke: keys become flags, `.describe()` gives their help, `.default()` their default) and run().
 */
export interface Task<S extends z.ZodObject = z.ZodObject> {
  name: string;
  help: string;
  /** Longer text for `--help TASK`. */
  description?: string;
  args: S;
  /** False for tasks that never touch hosts (e.g. `inventory`): no inventory is loaded for them. */
  needsInventory?: boolean;
  /**
   * 'changes': its ok and skipped lines are noise (a converging task: a no-op run over 30 hosts would
   * print hundreds), so the text output shows them only with -v. 'all' (default): they are its output.
   */
  display?: 'all' | 'changes';
  run(run: Run, args: z.output<S>): Promise<void>;
}

export function task<S extends z.ZodObject>(def: Task<S>): Task<S> {
  return def;
}

export function isTask(value: unknown): value is Task {
  const v = value as Partial<Task> | undefined;
  return !!v && typeof v === 'object' && typeof v.name === 'string' && typeof v.run === 'function' && !!v.args;
}

/** A task's failure that is a decision, not a crash (e.g. refusing a split-brain plan). */
export class TaskRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TaskRefused';
  }
}
