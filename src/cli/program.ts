import { Command, CommanderError, Option } from 'commander';
import { UnreachableError } from '../connection/types.js';
import { UserError } from '../errors.js';
import type { Reporter } from '../engine/events.js';
import { Run, sshConnector, type Connector } from '../engine/run.js';
import { mask } from '../engine/secrets.js';
import { TaskRefused, type Task } from '../engine/task.js';
import { loadInventory } from '../inventory/index.js';
import { kebab, optionsFromSchema, valueFlags } from './flags.js';
import { JsonReporter, TextReporter } from './reporters.js';
import { splitInvocation, type Invocation } from './split-argv.js';
import { findTaskFile, loadTaskFile } from './task-loader.js';
import { renderTaskList } from './task-list.js';

export interface ProgramIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  isTTY: boolean;
  env: NodeJS.ProcessEnv;
  cwd: string;
  connector?: Connector;
}

export interface GlobalOptions {
  inventory: string;
  limit?: string;
  check: boolean;
  diff: boolean;
  forks: number;
  verbose: boolean;
  json: boolean;
  tasks?: string;
}

/** The global flags, which come before the first task name (invoke's core flags). */
export function globalOptions(env: NodeJS.ProcessEnv): Option[] {
  return [
    new Option('-i, --inventory <path>', 'inventory file or directory').default(env.PGTASKS_INVENTORY ?? './inventory'),
    new Option('-l, --limit <pattern>', 'only hosts matching this Ansible host pattern'),
    new Option('--check', 'plan only: show what would change, change nothing'),
    new Option('--diff', 'show the differences of changed files'),
    new Option('-f, --forks <n>', 'hosts worked on in parallel').default(10).argParser((v) => positiveInt(v, '--forks')),
    new Option('-v, --verbose', 'show every command sent to a host'),
    new Option('--json', 'machine-readable events and results on stdout, one JSON object per line'),
    new Option('--tasks <file>', 'a task file of your own (default: ./pgtasks.tasks.ts if present)'),
  ];
}

function positiveInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UserError(`${flag} takes a whole number above 0, not '${v}'`);
  return n;
}

/** A commander program for one segment of argv: the global flags plus every task as a subcommand. */
function buildProgram(tasks: Task[], io: ProgramIO, version: string): Command {
  const program = new Command('pgtasks')
    .description('Build and operate PostgreSQL clusters over SSH from an Ansible inventory')
    .version(version, '--version')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => {} })
    .showSuggestionAfterError(true)
    .enablePositionalOptions();
  for (const o of globalOptions(io.env)) program.addOption(o);
  for (const t of tasks) {
    const cmd = program.command(t.name).description(t.description ? `${t.help}\n\n${t.description}` : t.help).summary(t.help);
    for (const o of optionsFromSchema(t.args)) cmd.addOption(o);
    cmd.action(() => {});
  }
  return program;
}

export async function main(argv: string[], io: ProgramIO, builtins: Task[], version: string): Promise<number> {
  try {
    return await execute(argv, io, builtins, version);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return 0; // --help, --version
      io.stderr(`pgtasks: ${err.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ')}\n`);
      return 2;
    }
    if (err instanceof UserError) {
      // Several problems (a bad inventory's): one line each, each a `pgtasks: file:line: ...` line.
      io.stderr(mask(err.message).split('\n').map((line) => `pgtasks: ${line}\n`).join(''));
      return err.exitCode;
    }
    if (err instanceof UnreachableError) {
      // A role that reached a host outside onHosts: the host is down, not the program broken.
      io.stderr(`pgtasks: ${err.host}: unreachable: ${mask(err.message)}\n`);
      return 4;
    }
    if (err instanceof TaskRefused) {
      io.stderr(`pgtasks: refused: ${mask(err.message)}\n`);
      return 1;
    }
    io.stderr(`pgtasks: ${mask((err as Error).stack ?? String(err))}\n`);
    return 1;
  }
}

async function execute(argv: string[], io: ProgramIO, builtins: Task[], version: string): Promise<number> {
  const taskFileFlag = argv.indexOf('--tasks');
  const taskFile = findTaskFile(io.cwd, taskFileFlag >= 0 ? argv[taskFileFlag + 1] : undefined);
  const tasks = [...builtins];
  if (taskFile) {
    for (const t of await loadTaskFile(taskFile)) {
      if (tasks.some((b) => b.name === t.name)) throw new UserError(`${taskFile}: task '${t.name}' is already a built-in task`);
      tasks.push(t);
    }
  }
  const byName = new Map(tasks.map((t) => [t.name, t]));
  const inv: Invocation = splitInvocation(argv, byName, new Set(['-i', '--inventory', '-l', '--limit', '-f', '--forks', '--tasks']), (t) => valueFlags(t.args));

  if (inv.helpFor !== undefined || (inv.segments.length === 0 && inv.globals.includes('--help'))) {
    const program = buildProgram(tasks, io, version);
    if (inv.helpFor) {
      const cmd = program.commands.find((c) => c.name() === inv.helpFor);
      if (!cmd) return main([inv.helpFor], io, builtins, version); // same "unknown task, did you mean" error
      io.stdout(cmd.helpInformation());
    } else io.stdout(program.helpInformation());
    return 0;
  }
  if (inv.list || (inv.segments.length === 0 && !inv.globals.includes('--version'))) {
    io.stdout(renderTaskList(tasks));
    return inv.list ? 0 : 2;
  }

  // Parse every segment with commander (flags, "did you mean", --help), then validate with zod.
  let globals: GlobalOptions | undefined;
  const calls: { task: Task; args: unknown }[] = [];
  for (const segment of inv.segments.length ? inv.segments : [[]]) {
    const program = buildProgram(tasks, io, version);
    await program.parseAsync([...inv.globals, ...segment], { from: 'user' });
    globals ??= program.opts<GlobalOptions>();
    const sub = program.commands.find((c) => c.name() === segment[0]);
    if (!sub) continue;
    const task = byName.get(sub.name())!;
    const parsed = task.args.safeParse(sub.opts());
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new UserError(`${task.name}: --${kebab(String(issue.path[0] ?? ''))}: ${issue.message}`);
    }
    calls.push({ task, args: parsed.data });
  }
  if (!globals || calls.length === 0) return 0;

  const reporter: Reporter = globals.json ? new JsonReporter(io.stdout) : new TextReporter(io.stdout, io.isTTY);
  const inventoryPath = globals.inventory;
  const run = new Run(
    () => loadInventory(inventoryPath),
    { check: !!globals.check, diff: !!globals.diff, verbose: !!globals.verbose, forks: globals.forks, limit: globals.limit, json: !!globals.json },
    reporter,
    io.connector ?? sshConnector,
  );
  try {
    // Load (and validate) the inventory before any task starts, so bad input touches nothing.
    if (calls.some((c) => c.task.needsInventory !== false)) await run.inventory();
    for (const call of calls) {
      run.emit({ type: 'task', task: call.task.name, check: run.options.check });
      await call.task.run(run, call.args as never);
    }
  } finally {
    await run.close();
    if (run.stats.size > 0) {
      const order = [...(await run.inventory().catch(() => undefined))?.hosts.keys() ?? []];
      const hosts = [...run.stats.keys()].sort((a, b) => order.indexOf(a) - order.indexOf(b));
      run.emit({ type: 'recap', hosts: Object.fromEntries(hosts.map((h) => [h, run.stats.get(h)!])) });
    }
  }
  return run.exitCode();
}
