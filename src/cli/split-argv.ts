import type { Task } from '../engine/task.js';

export interface Invocation {
  /** Global flags (everything before the first task name). */
  globals: string[];
  /** One segment per task call: [taskName, ...its flags]. */
  segments: string[][];
  list: boolean;
  /** `pgtasks --help TASK`: the task asked about. */
  helpFor?: string;
}

/**
 * Splits argv into global flags and one segment per task, as invoke does for `inv a --x b --y`.
 * A word is a task name when it names a task and is not the value of the flag before it.
 */
export function splitInvocation(
  argv: string[],
  tasks: Map<string, Task>,
  globalValueFlags: Set<string>,
  taskValueFlags: (t: Task) => Set<string>,
): Invocation {
  const globals: string[] = [];
  const segments: string[][] = [];
  let list = false;
  let helpFor: string | undefined;
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--list') list = true;
    else if ((a === '--help' || a === '-h') && argv[i + 1] && !argv[i + 1]!.startsWith('-')) {
      helpFor = argv[++i];
    } else if (a.startsWith('-')) {
      globals.push(a);
      if (globalValueFlags.has(a) && i + 1 < argv.length) globals.push(argv[++i]!);
    } else break;
  }
  let current: string[] | undefined;
  let valueFlags = new Set<string>();
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    const previous = argv[i - 1];
    const isValue = current !== undefined && previous !== undefined && valueFlags.has(previous) && !a.startsWith('-');
    const task = tasks.get(a);
    if (current === undefined || (task && !isValue)) {
      current = [a];
      segments.push(current);
      valueFlags = task ? taskValueFlags(task) : new Set();
    } else current.push(a);
  }
  return { globals, segments, list, helpFor };
}
