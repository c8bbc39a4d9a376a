import { resolve } from 'node:path';
import { Command, CommanderError, Help } from 'commander';
import { UnreachableError } from '../connection/types.js';
import { UserError } from '../errors.js';
import type { Reporter } from '../engine/events.js';
import type { Connector } from '../engine/run.js';
import type { InterruptSignal, RunIO } from '../engine/run-io.js';
import { Secrets, withRunSecrets } from '../engine/secrets.js';
import { TaskRefused, type Task } from '../engine/task.js';
import { DisplayFilter, displayOptions, useColor } from './display.js';
import { kebab, optionsFromSchema, taskFlagSpec } from './flags.js';
import { flagClashes, globalFlagSpec, globalOptions } from './global-flags.js';
import { unwrapParagraphs } from './help-text.js';
import { JsonReporter, jsonErrors, TextReporter } from './reporters.js';
import { splitInvocation, taskFileArg, type Invocation } from './split-argv.js';
import { findTaskFile, loadTaskFile } from './task-loader.js';
import { renderTaskList } from './task-list.js';

export interface ProgramIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  isTTY: boolean;
  /** The terminal's width, for --help; undefined when stdout is not a terminal (commander then uses 80). */
  columns?: number;
  env: NodeJS.ProcessEnv;
  cwd: string;
  connector?: Connector;
  /** Ctrl-C and SIGTERM (see RunIO.onInterrupt); without it, no run ever hears of a signal. */
  onInterrupt?: (handler: (signal: InterruptSignal) => void) => () => void;
  /** Whether a process of this machine runs (see RunIO.alive). */
  alive?: (pid: number) => boolean;
  /** Ends the process with a signal a handler held off (see RunIO.raise). */
  raise?: (signal: InterruptSignal) => void;
  /** Asks on the terminal (failover's confirmation); undefined when stdin is not a terminal. */
  ask?: (question: string) => Promise<string>;
  /** The process id, for the lock holder's description; 0 when not given. */
  pid?: number;
}

/** The run's part of the program's I/O: only what the engine, the roles and the tasks use. */
function runIO(io: ProgramIO): RunIO {
  return { env: io.env, pid: io.pid ?? 0, onInterrupt: io.onInterrupt ?? (() => () => {}), raise: io.raise ?? (() => {}), ask: io.ask, alive: io.alive };
}

export interface GlobalOptions {
  inventory: string;
  limit?: string;
  check: boolean;
  diff: boolean;
  forks: number;
  verbose: number;
  json: boolean;
  onlyChanges: boolean;
  tasks?: string;
}

export { globalOptions } from './global-flags.js';

// Wrapped to the terminal by commander's own wrapper, as the rest of the help, paragraph by paragraph.
const GLOBAL_HELP_NOTES = `
Global flags may stand before the first task or after any task name (pgtasks configure-cluster --check -l h2); they apply to the whole run. Several tasks run in order: pgtasks configure-cluster info-list. 'pgtasks help TASK' shows a task's flags.

Environment: PGTASKS_INVENTORY (default for -i), NO_COLOR (any value: no colour), PGTASKS_DISPLAY_OK_HOSTS=false and PGTASKS_DISPLAY_SKIPPED_HOSTS=false (as Ansible's; both false = --only-changes), PGTASKS_PERSIST=<seconds> (how long a background pgtasks process of yours keeps node and each host's SSH connection for the next run, as Ansible's ControlPersist: 60 by default, 0 = off; killing the command stops its run as before).
`;

/** A commander program for one segment of argv: the global flags plus every task as a subcommand. */
function buildProgram(tasks: Task[], io: ProgramIO, version: string): Command {
  const program = new Command('pgtasks')
    .description('Build and operate PostgreSQL clusters over SSH from an Ansible inventory')
    .version(version, '--version')
    .exitOverride()
    .configureOutput({
      writeOut: io.stdout,
      writeErr: io.stderr,
      outputError: () => {},
      getOutHelpWidth: () => io.columns ?? 80,
      getOutHasColors: () => useColor(io.env, io.isTTY),
    })
    .showSuggestionAfterError(true)
    .enablePositionalOptions();
  for (const o of globalOptions(io.env)) program.addOption(o);
  for (const t of tasks) {
    const cmd = program
      .command(t.name)
      .description(unwrapParagraphs(t.description ? `${t.help}\n\n${t.description}` : t.help))
      .summary(t.help);
    for (const o of optionsFromSchema(t.args)) cmd.addOption(o);
    cmd.action(() => {});
  }
  return program;
}

export async function main(argv: string[], io: ProgramIO, builtins: Task[], version: string): Promise<number> {
  // This call's secrets: masked in its error lines below as in its run's output, never another call's.
  const secrets = new Secrets();
  const mask = (text: string) => secrets.mask(text);
  try {
    return await execute(argv, io, builtins, version, secrets);
  } catch (err) {
    // With --json, the error is an event on stdout too (the text still goes to stderr).
    if (argv.includes('--json')) io = { ...io, stderr: jsonErrors(io.stdout, io.stderr) };
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return 0; // --help, --version
      io.stderr(`pgtasks: ${err.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ')}\n`);
      return 2;
    }
    if (err instanceof UserError) {
      // Several problems (a bad inventory's): one line each, each a `pgtasks: file:line: ...` line.
      io.stderr(
        mask(err.message)
          .split('\n')
          .map((line) => `pgtasks: ${line}\n`)
          .join(''),
      );
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
    // By name: the engine's modules load only when a task runs. Reported already, as the host's failed
    // step: a line saying the task stopped there, no stack; a failed host exits 2.
    if ((err as Error).name === 'StepFailed') {
      const { host, step } = err as Error & { host: string; step: string };
      io.stderr(`pgtasks: stopped: ${host}: ${step} failed: ${mask((err as Error).message)}\n`);
      return 2;
    }
    io.stderr(`pgtasks: ${mask((err as Error).stack ?? String(err))}\n`);
    return 1;
  }
}

async function execute(argv: string[], io: ProgramIO, builtins: Task[], version: string, secrets: Secrets): Promise<number> {
  const taskFile = findTaskFile(io.cwd, taskFileArg(argv));
  const tasks = [...builtins];
  // A built-in whose flag clashes is a bug of pgtasks; the same check names it before anything runs.
  const clashes = builtins.flatMap((t) => flagClashes(t));
  if (taskFile) {
    for (const t of await loadTaskFile(taskFile)) {
      if (tasks.some((b) => b.name === t.name)) throw new UserError(`${taskFile}: task '${t.name}' is already a built-in task`);
      clashes.push(...flagClashes(t).map((c) => `${taskFile}: ${c}`));
      tasks.push(t);
    }
  }
  if (clashes.length) throw new UserError(clashes.join('\n'));
  const byName = new Map(tasks.map((t) => [t.name, t]));
  const inv: Invocation = splitInvocation(argv, byName, globalFlagSpec(globalOptions(io.env)), (t) => taskFlagSpec(t.args));

  if (inv.help || (inv.segments.length === 0 && inv.globals.some((g) => g === '--help' || g === '-h'))) {
    const program = buildProgram(tasks, io, version);
    const name = inv.help?.task;
    if (name === undefined) io.stdout(program.helpInformation() + new Help().boxWrap(GLOBAL_HELP_NOTES, io.columns ?? 80));
    else {
      const cmd = program.commands.find((c) => c.name() === name);
      if (!cmd) await program.parseAsync([name], { from: 'user' }); // commander's "unknown command, did you mean"
      io.stdout(cmd!.helpInformation());
    }
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

  const color = !globals.json && useColor(io.env, io.isTTY);
  const reporter: Reporter = globals.json
    ? new JsonReporter(io.stdout)
    : new DisplayFilter(
        new TextReporter(io.stdout, color, io.isTTY),
        displayOptions(io.env, !!globals.onlyChanges, globals.verbose > 0),
        new Set(calls.filter((c) => c.task.display === 'changes').map((c) => c.task.name)),
      );
  // Relative to the working directory the program was given, as every other path on the command line.
  const inventoryPath = resolve(io.cwd, globals.inventory);
  // The engine and the inventory reader load only when a task runs: --version, --list and --help do without.
  const [{ Run, sshConnector }, { loadInventory }] = await Promise.all([import('../engine/run.js'), import('../inventory/index.js')]);
  const run = new Run(
    () => loadInventory(inventoryPath),
    {
      check: !!globals.check,
      diff: !!globals.diff,
      verbose: globals.verbose > 0,
      showReads: globals.verbose > 1,
      forks: globals.forks,
      limit: globals.limit,
      json: !!globals.json,
      color,
    },
    reporter,
    io.connector ?? sshConnector,
    runIO(io),
    secrets,
  );
  try {
    // Load (and validate) the inventory before any task starts, so bad input touches nothing.
    if (calls.some((c) => c.task.needsInventory !== false)) await run.inventory();
    // Inside withRunSecrets: a team task's registerSecret(value) (the compatible form) masks this run's output.
    await withRunSecrets(run.secrets, async () => {
      for (const call of calls) {
        run.emit({ type: 'task', task: call.task.name, check: run.options.check });
        await call.task.run(run, call.args as never);
      }
    });
  } finally {
    await run.close();
    if (run.stats.size > 0) {
      const order = [...((await run.inventory().catch(() => undefined))?.hosts.keys() ?? [])];
      const hosts = [...run.stats.keys()].sort((a, b) => order.indexOf(a) - order.indexOf(b));
      run.emit({ type: 'recap', hosts: Object.fromEntries(hosts.map((h) => [h, run.stats.get(h)!])) });
    }
  }
  return run.exitCode();
}
