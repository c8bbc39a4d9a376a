import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { fieldInfo, optionsFromSchema, valueFlags } from '../../src/cli/flags.js';
import { splitInvocation } from '../../src/cli/split-argv.js';
import { task, type Task } from '../../src/engine/task.js';

const noop = async () => {};
const a = task({ name: 'configure-cluster', help: 'h', args: z.object({ cluster: z.string().optional() }), run: noop });
const b = task({ name: 'info-list', help: 'h', args: z.object({ watch: z.boolean().default(false) }), run: noop });
const tasks = new Map<string, Task>([[a.name, a as Task], [b.name, b as Task]]);
const globals = new Set(['-i', '--inventory', '-l', '--limit', '-f', '--forks', '--tasks']);
const split = (argv: string[]) => splitInvocation(argv, tasks, globals, (t) => valueFlags(t.args));

describe('argv splitting (invoke-style multi-task calls)', () => {
  test('globals, then one segment per task', () => {
    expect(split(['-i', 'inv', '--check', 'configure-cluster', '--cluster', 'x', 'info-list'])).toEqual({
      globals: ['-i', 'inv', '--check'],
      segments: [['configure-cluster', '--cluster', 'x'], ['info-list']],
      list: false,
      helpFor: undefined,
    });
  });
  test('a flag value that happens to be a task name stays a value', () => {
    expect(split(['configure-cluster', '--cluster', 'info-list']).segments).toEqual([['configure-cluster', '--cluster', 'info-list']]);
    expect(split(['-l', 'info-list', 'info-list']).globals).toEqual(['-l', 'info-list']);
  });
  test('--help TASK and --list', () => {
    expect(split(['--help', 'info-list']).helpFor).toBe('info-list');
    expect(split(['--list']).list).toBe(true);
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
