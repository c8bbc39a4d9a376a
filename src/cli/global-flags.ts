import { Option } from 'commander';
import { UserError } from '../errors.js';
import type { Task } from '../engine/task.js';
import { optionsFromSchema } from './flags.js';

/**
 * The global flags: they apply to the whole run and may stand before the first task, as with invoke,
 * or after any task name, as Ansible users type them (`pgtasks configure-cluster --check -l h2`).
 */
export function globalOptions(env: NodeJS.ProcessEnv): Option[] {
  return [
    new Option('-i, --inventory <path>', 'inventory file or directory').default(env.PGTASKS_INVENTORY ?? './inventory'),
    new Option('-l, --limit <pattern>', 'only hosts matching this Ansible host pattern (cluster tasks widen it to whole clusters, and say so)'),
    new Option('--check', 'plan only: show what would change, change nothing'),
    new Option('--diff', 'show the differences of changed files'),
    new Option('-f, --forks <n>', 'hosts worked on in parallel').default(10).argParser((v) => positiveInt(v, '--forks')),
    new Option('-v, --verbose', 'show every command that changes a host (-vv: also every read: facts, probes, read-only queries)')
      .argParser((_: string, previous: number) => previous + 1)
      .default(0),
    new Option('--json', 'machine-readable events and results on stdout, one JSON object per line'),
    new Option(
      '--only-changes',
      "hide ok and skipped lines: show changes, failures, messages and the recap (Ansible's display_ok_hosts=false and display_skipped_hosts=false)",
    ),
    new Option('--tasks <file>', 'a task file of your own (default: ./pgtasks.tasks.ts if present)'),
  ];
}

function positiveInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UserError(`${flag} takes a whole number above 0, not '${v}'`);
  return n;
}

/** What argv splitting needs to know about the global flags: their names, and which take a value. */
export interface GlobalFlagSpec {
  /** Long (`--limit`) and short (`-l`) names. */
  names: Set<string>;
  /** The names, long and short, that take a value. */
  withValue: Set<string>;
}

export function globalFlagSpec(options: Option[] = globalOptions({})): GlobalFlagSpec {
  const names = new Set<string>();
  const withValue = new Set<string>();
  for (const o of options) {
    for (const name of [o.long, o.short]) {
      if (!name) continue;
      names.add(name);
      if (o.required || o.optional) withValue.add(name);
    }
  }
  return { names, withValue };
}

/**
 * A task whose flag clashes with a global one is refused when the tasks are loaded, for built-in and
 * team tasks alike, before anything runs: a global flag may follow the task name, so which of the two
 * `--limit` was meant could only be guessed. `--help` after a task name is that task's help. (`--list`
 * and `--version` are program flags only before the first task name, so `inventory --list` is free.)
 */
export function flagClashes(task: Task, spec: GlobalFlagSpec = globalFlagSpec()): string[] {
  const out: string[] = [];
  for (const o of optionsFromSchema(task.args)) {
    const flag = o.long!;
    if (spec.names.has(flag))
      out.push(`task '${task.name}': its flag ${flag} is also a global flag (${flag} applies to the whole run, before or after the task name); rename it`);
    else if (flag === '--help') out.push(`task '${task.name}': its flag --help is reserved for the task's help; rename it`);
  }
  if (task.name === 'help') out.push(`task 'help': the name is reserved for 'pgtasks help TASK'; rename the task`);
  return out;
}
