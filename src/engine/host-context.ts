import type { Duplex } from 'node:stream';
import type { Command } from '../connection/shell.js';
import { folderOf, UPLOAD_END, uploadFilesCommand } from '../connection/file-upload.js';
import type { CommandResult, Connection, PutOptions, RunOptions } from '../connection/types.js';
import type { Reporter } from './events.js';
import type { HostView, ReadCommand, ReadOptions } from './host-view.js';
import type { Secrets } from './secrets.js';

/** A command that exited non-zero where success was required. Its message is already masked. */
export class CommandError extends Error {
  constructor(
    readonly host: string,
    readonly command: string,
    readonly result: CommandResult,
    secrets: Secrets,
  ) {
    const detail = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-5).join('\n');
    super(secrets.mask(`command failed (exit ${result.code}): ${firstLine(command)}\n${detail}`));
    this.name = 'CommandError';
  }
}

function firstLine(command: string): string {
  const line = command.split('\n')[0] ?? '';
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}

export interface HostContextOptions {
  check: boolean;
  diff: boolean;
  verbose: boolean;
  showReads?: boolean;
}

/**
 * What a step sees of one host: its name and merged inventory variables, its connection, the run's
 * mode, and a per-run cache of facts. Passed explicitly: no global "current host".
 */
export class HostContext implements HostView {
  /** Facts gathered this run, by fact name; steps that change a host invalidate what they changed. */
  readonly facts = new Map<string, unknown>();
  /** Handlers notified by steps that changed something (Ansible's notify), e.g. 'postgresql-reload'. */
  readonly notified = new Set<string>();
  /** What plans get: reading only (a separate object, so no cast reaches run() or put()). */
  readonly view: HostView;

  constructor(
    readonly host: string,
    readonly vars: Record<string, unknown>,
    readonly connection: Connection,
    readonly reporter: Reporter,
    readonly options: HostContextOptions,
    /** The run's secrets: masked in every command, message and error this host reports. */
    readonly secrets: Secrets,
    /** Called when the engine changes this host (the run keeps when, so facts read before are known stale). */
    private readonly onChange: () => void = () => {},
  ) {
    const notified = this.notified;
    this.view = Object.freeze({
      host,
      vars,
      options,
      check: options.check,
      facts: this.facts,
      // Only a question about the set: no add or delete reaches it from a plan.
      notified: { has: (h: string) => notified.has(h) },
      read: this.read.bind(this),
      message: this.message.bind(this),
    });
  }

  /** The engine is about to change this host. */
  changed(): void {
    this.prefetched.clear();
    this.onChange();
  }

  /** Results of reads already made in another round trip (the cluster lock's), by command: each answers once. */
  private readonly prefetched = new Map<string, CommandResult>();

  /**
   * Offers the result of `command`, read by other means (the lock holder ran it right after taking the
   * lock): the next read() of exactly that command gets it instead of running it. A change to this host
   * drops it, as it drops cached facts.
   */
  prefetch(command: ReadCommand, result: CommandResult): void {
    this.prefetched.set(command, result);
  }

  get check(): boolean {
    return this.options.check;
  }

  /** Runs a command; fails (CommandError) on a non-zero exit unless `allowFailure`. */
  async run(command: Command, options: RunOptions & { allowFailure?: boolean; quiet?: boolean } = {}): Promise<CommandResult> {
    if (this.options.verbose && !options.quiet) this.reporter.emit({ type: 'command', host: this.host, command: this.secrets.mask(command) });
    const result = await this.connection.run(command, options);
    if (result.code !== 0 && !options.allowFailure) throw new CommandError(this.host, command, result, this.secrets);
    return result;
  }

  /** Reads state (see HostView): the same as run(), for commands declared read-only. */
  read(command: ReadCommand, options: ReadOptions = {}): Promise<CommandResult> {
    const ready = this.prefetched.get(command);
    if (ready) {
      this.prefetched.delete(command);
      if (ready.code !== 0 && !options.allowFailure) return Promise.reject(new CommandError(this.host, command, ready, this.secrets));
      return Promise.resolve(ready);
    }
    // Reads are many (a no-op run is nothing but reads): shown with -vv only.
    return this.run(command, { ...options, quiet: !this.options.showReads });
  }

  async put(path: string, content: string | Buffer, options?: PutOptions & { quiet?: boolean }): Promise<void> {
    if (this.options.verbose && !options?.quiet) this.reporter.emit({ type: 'command', host: this.host, command: `put ${path}` });
    await this.connection.put(path, content, options);
  }

  /**
   * Writes several files, those of one folder in one command (uploadFilesCommand): one round trip
   * instead of one a file. Each file is still replaced atomically; a folder's files only once all
   * of them arrived.
   */
  async putFiles(files: { path: string; content: string | Buffer; options?: PutOptions }[]): Promise<void> {
    const byFolder = new Map<string, typeof files>();
    for (const f of files) {
      byFolder.set(folderOf(f.path), [...(byFolder.get(folderOf(f.path)) ?? []), f]);
    }
    for (const group of byFolder.values()) {
      if (group.length === 1) {
        await this.connection.put(group[0]!.path, group[0]!.content, group[0]!.options);
        continue;
      }
      const bodies = group.map((f) => Buffer.from(f.content));
      const command = uploadFilesCommand(group.map((f, i) => ({ path: f.path, bytes: bodies[i]!.length, options: f.options })));
      const result = await this.connection.run(command, { stdin: Buffer.concat([...bodies, Buffer.from(UPLOAD_END)]) });
      if (result.code !== 0) throw new Error(`upload of ${group.map((f) => f.path).join(', ')} failed: ${result.stderr.trim()}`);
    }
  }

  forward(host: string, port: number): Promise<Duplex> {
    return this.connection.forward(host, port);
  }

  message(text: string): void {
    this.reporter.emit({ type: 'message', host: this.host, text: this.secrets.mask(text) });
  }
}
