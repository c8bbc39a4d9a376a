import type { Task } from '../engine/task.js';

/** The flags of the program or of one task: names (long and short) and those that take a value. */
export interface FlagSpec {
  names: Set<string>;
  withValue: Set<string>;
}

export interface Invocation {
  /** Global flags, wherever they stood: before the first task or after any task name. */
  globals: string[];
  /** One segment per task call: [taskName, ...its own flags]. */
  segments: string[][];
  list: boolean;
  /** `pgtasks --help [TASK]`, `pgtasks help [TASK]`: the program's help, or a task's. */
  help?: { task?: string };
}

/**
 * Splits argv into global flags and one segment per task, as invoke does for `inv a --x b --y`, and
 * also takes global flags from after a task name, as Ansible users type them
 * (`pgtasks configure-cluster --check -l h2`). A word is a task name when it names a task and is not
 * the value of the flag before it. A task's own flags come first; no task may define a global flag's
 * name (see flagClashes), so the order only matters for unknown flags, which stay with the task and
 * get commander's "unknown option, did you mean" error there.
 */
export function splitInvocation(argv: string[], tasks: Map<string, Task>, global: FlagSpec, taskFlags: (t: Task) => FlagSpec): Invocation {
  const globals: string[] = [];
  const segments: string[][] = [];
  let list = false;
  let help: Invocation['help'];
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--list') list = true;
    else if ((a === '--help' || a === '-h') && argv[i + 1] && !argv[i + 1]!.startsWith('-')) help = { task: argv[++i] };
    else if (a === 'help' && segments.length === 0) help = argv[i + 1] && !argv[i + 1]!.startsWith('-') ? { task: argv[++i] } : {};
    else if (a.startsWith('-') && a !== '-') i = takeFlag(argv, i, global, globals);
    else break;
  }
  let current: string[] | undefined;
  let own: FlagSpec = { names: new Set(), withValue: new Set() };
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    const task = tasks.get(a);
    if (current === undefined || (task && !a.startsWith('-'))) {
      current = [a];
      segments.push(current);
      own = task ? taskFlags(task) : { names: new Set(), withValue: new Set() };
    } else if (a === '--') {
      current.push(...argv.slice(i)); // the end of options: everything left is the task's
      break;
    } else if (a.startsWith('-') && a !== '-') {
      const name = a.split('=')[0]!;
      const isGlobal = !own.names.has(name) && (a.startsWith('--') ? global.names.has(name) : a !== '-h');
      i = takeFlag(argv, i, isGlobal ? global : own, isGlobal ? globals : current);
    } else current.push(a); // a stray word: commander says "too many arguments" for the task
  }
  return { globals, segments, list, help };
}

/**
 * Moves the flag at argv[i] (and its value, when it takes one and has none attached) into `out`;
 * returns the index of the last word taken. Short flags may be combined as commander allows:
 * `-vl h2`, `-lh2`.
 */
function takeFlag(argv: string[], i: number, spec: FlagSpec, out: string[]): number {
  const a = argv[i]!;
  out.push(a);
  const hasNext = i + 1 < argv.length;
  if (a.startsWith('--')) return !a.includes('=') && spec.withValue.has(a) && hasNext ? (out.push(argv[i + 1]!), i + 1) : i;
  const letters = a.slice(1);
  for (let k = 0; k < letters.length; k++) {
    if (!spec.withValue.has(`-${letters[k]}`)) continue;
    // The rest of the word is the value (`-lh2`); a value-taking flag last in the word takes the next word.
    return k === letters.length - 1 && hasNext ? (out.push(argv[i + 1]!), i + 1) : i;
  }
  return i;
}

/** `--tasks FILE` or `--tasks=FILE` anywhere in argv: needed before splitting, to know the task names. */
export function taskFileArg(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    if (a === '--tasks') return argv[i + 1];
    if (a.startsWith('--tasks=')) return a.slice('--tasks='.length);
  }
  return undefined;
}
