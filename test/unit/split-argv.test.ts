import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { fieldInfo, optionsFromSchema, taskFlagSpec, valueFlags } from '../../src/cli/flags.js';
import { flagClashes, globalFlagSpec, globalOptions } from '../../src/cli/global-flags.js';
import { splitInvocation, taskFileArg } from '../../src/cli/split-argv.js';
import { task, type Task } from '../../src/engine/task.js';
import { builtinTasks } from '../../tasks/index.js';

const noop = async () => {};
const a = task({ name: 'configure-cluster', help: 'h', args: z.object({ cluster: z.string().optional() }), run: noop });
const b = task({ name: 'info-list', help: 'h', args: z.object({ watch: z.boolean().default(false) }), run: noop });
const c = task({ name: 'inventory', help: 'h', args: z.object({ list: z.boolean().default(false) }), run: noop });
const tasks = new Map<string, Task>([a, b, c].map((t) => [t.name, t as Task]));
const split = (argv: string[]) => splitInvocation(argv, tasks, globalFlagSpec(globalOptions({})), (t) => taskFlagSpec(t.args));

describe('argv splitting (invoke-style multi-task calls)', () => {
  test('globals, then one segment per task', () => {
    expect(split(['-i', 'inv', '--check', 'configure-cluster', '--cluster', 'x', 'info-list'])).toEqual({
      globals: ['-i', 'inv', '--check'],
      segments: [['configure-cluster', '--cluster', 'x'], ['info-list']],
      list: false,
      help: undefined,
    });
  });
  test('a flag value that happens to be a task name stays a value', () => {
    expect(split(['configure-cluster', '--cluster', 'info-list']).segments).toEqual([['configure-cluster', '--cluster', 'info-list']]);
    expect(split(['-l', 'info-list', 'info-list']).globals).toEqual(['-l', 'info-list']);
    expect(split(['info-list', '-l', 'configure-cluster']).segments).toEqual([['info-list']]);
  });
  test('--help TASK, help TASK, help, --list', () => {
    expect(split(['--help', 'info-list']).help).toEqual({ task: 'info-list' });
    expect(split(['help', 'info-list']).help).toEqual({ task: 'info-list' });
    expect(split(['-i', 'inv', 'help', 'info-list']).help).toEqual({ task: 'info-list' });
    expect(split(['help']).help).toEqual({});
    expect(split(['--list']).list).toBe(true);
  });
});

describe('global flags after a task name, as Ansible users type them', () => {
  test('configure-cluster --check --diff -l h2 is the same run as --check --diff -l h2 configure-cluster', () => {
    const after = split(['configure-cluster', '--check', '--diff', '-l', 'h2']);
    expect(after.globals).toEqual(['--check', '--diff', '-l', 'h2']);
    expect(after.segments).toEqual([['configure-cluster']]);
  });
  test('every spelling of a value: -l h2, -lh2, --limit h2, --limit=h2, combined -vl h2; task flags stay with the task', () => {
    for (const [flags, expected] of [
      [['-lh2'], ['-lh2']],
      [
        ['--limit', 'h2'],
        ['--limit', 'h2'],
      ],
      [['--limit=h2'], ['--limit=h2']],
      [
        ['-vl', 'h2'],
        ['-vl', 'h2'],
      ],
      [
        ['-v', '-f', '3', '--json', '--only-changes', '--tasks', 'x.ts', '-i', 'inv'],
        ['-v', '-f', '3', '--json', '--only-changes', '--tasks', 'x.ts', '-i', 'inv'],
      ],
    ] as const) {
      const r = split(['configure-cluster', '--cluster', 'demo', ...flags, 'info-list', '--watch']);
      expect(r.globals).toEqual(expected);
      expect(r.segments).toEqual([
        ['configure-cluster', '--cluster', 'demo'],
        ['info-list', '--watch'],
      ]);
    }
  });
  test('globals before and after a task both count; --help and unknown flags stay with the task (its help, its error)', () => {
    const r = split(['-i', 'inv', 'configure-cluster', '--check', '--help', '--clustr', 'x']);
    expect(r.globals).toEqual(['-i', 'inv', '--check']);
    expect(r.segments).toEqual([['configure-cluster', '--help', '--clustr', 'x']]);
  });
  test("a task's own flag is the task's: inventory --list is not the program's --list", () => {
    const r = split(['inventory', '--list', '--json']);
    expect(r.list).toBe(false);
    expect(r.globals).toEqual(['--json']);
    expect(r.segments).toEqual([['inventory', '--list']]);
  });
  test("after --, everything is the task's", () => {
    expect(split(['configure-cluster', '--', '--check']).segments).toEqual([['configure-cluster', '--', '--check']]);
    expect(split(['configure-cluster', '--', '--check']).globals).toEqual([]);
  });
  test('--tasks FILE is found anywhere, in both spellings', () => {
    expect(taskFileArg(['motd', '--tasks', 'x.ts'])).toBe('x.ts');
    expect(taskFileArg(['--tasks=y.ts', 'motd'])).toBe('y.ts');
    expect(taskFileArg(['motd'])).toBeUndefined();
  });
});

describe('a task flag that clashes with a global flag is refused when tasks are loaded', () => {
  test('no built-in task clashes', () => {
    expect(builtinTasks.flatMap((t) => flagClashes(t))).toEqual([]);
  });
  test('a task defining --check, --limit or --help, or named help, is told so', () => {
    const bad = task({
      name: 'deploy',
      help: 'h',
      args: z.object({ check: z.boolean().default(false), limit: z.string(), help: z.boolean().default(false) }),
      run: noop,
    });
    expect(flagClashes(bad as Task)).toEqual([
      "task 'deploy': its flag --check is also a global flag (--check applies to the whole run, before or after the task name); rename it",
      "task 'deploy': its flag --limit is also a global flag (--limit applies to the whole run, before or after the task name); rename it",
      "task 'deploy': its flag --help is reserved for the task's help; rename it",
    ]);
    const named = task({ name: 'help', help: 'h', args: z.object({}), run: noop });
    expect(flagClashes(named as Task)).toEqual(["task 'help': the name is reserved for 'pgtasks help TASK'; rename the task"]);
    // --list and --version are program flags only before the first task: a task may have its own.
    expect(flagClashes(c as Task)).toEqual([]);
  });
});

describe('flags from a zod schema', () => {
  const schema = z.object({
    target: z.string().describe('host to promote'),
    maxLag: z.number().default(16).describe('largest lag accepted'),
    force: z.boolean().default(false).describe('skip checks'),
    mode: z.enum(['session', 'transaction']).optional(),
  });
  test('field info', () => {
    expect(fieldInfo(schema.shape.maxLag)).toMatchObject({ kind: 'number', optional: true, defaultValue: 16, description: 'largest lag accepted' });
    expect(fieldInfo(schema.shape.mode)).toMatchObject({ kind: 'enum', choices: ['session', 'transaction'] });
  });
  test('options', () => {
    const opts = optionsFromSchema(schema);
    expect(opts.map((o) => o.flags)).toEqual(['--target <target>', '--max-lag <n>', '--force', '--mode <mode>']);
    expect(opts[0]!.mandatory).toBe(true);
    expect(opts[1]!.defaultValue).toBe(16);
    expect(valueFlags(schema)).toEqual(new Set(['--target', '--max-lag', '--mode']));
  });
});
