import type { Duplex } from 'node:stream';
import { uploadCommand } from '../../../src/connection/file-upload.js';
import { asUser, type Command } from '../../../src/connection/shell.js';
import { sshTargetFromVars } from '../../../src/connection/target.js';
import type { CommandResult, Connection, PutOptions, RunOptions } from '../../../src/connection/types.js';

/** One command as the host's shell would receive it (wrapped for another user, as SshConnection wraps it). */
export interface Recorded {
  host: string;
  command: string;
  stdin?: string;
}

/** What the fake host answers to a command (the command before the run-as wrapping); code 0 and no output by default. */
export type Responder = (host: string, command: string, stdin: string | undefined) => Partial<CommandResult> | undefined;

/**
 * A Connection that records the commands it is given instead of running them, and answers from a
 * responder. Commands are wrapped exactly as SshConnection wraps them (ansible_become, a step's user),
 * and uploads become the same upload command, so what is recorded is what an sshd would receive.
 * No network: port forwards fail as a closed port does.
 */
export class RecordingConnection implements Connection {
  private readonly target;

  constructor(
    readonly host: string,
    vars: Record<string, unknown>,
    private readonly respond: Responder,
    private readonly log: Recorded[],
  ) {
    this.target = sshTargetFromVars(host, vars);
  }

  async run(command: Command, options: RunOptions = {}): Promise<CommandResult> {
    const runAs = options.user ?? (this.target.become ? this.target.becomeUser : undefined);
    const full = runAs ? asUser(command, runAs, this.target.user) : command;
    const stdin = options.stdin === undefined ? undefined : options.stdin.toString();
    this.log.push({ host: this.host, command: full, stdin });
    return { code: 0, stdout: '', stderr: '', ...this.respond(this.host, command, stdin) };
  }

  async put(path: string, content: string | Buffer, options: PutOptions = {}): Promise<void> {
    const r = await this.run(uploadCommand(path, options), { stdin: content });
    if (r.code !== 0) throw new Error(`upload of ${path} failed`);
  }

  forward(host: string, port: number): Promise<Duplex> {
    return Promise.reject(new Error(`connect ECONNREFUSED ${host}:${port} (recording connection)`));
  }

  async close(): Promise<void> {}
}

/** A word as the shell reads it back (single quotes as quote() writes them). */
const unquote = (word: string) => word.replace(/'\\''/g, "'").replace(/^'|'$/g, '');

/**
 * The files a host was sent, by path, in the order sent: from single uploads (uploadCommand) and from
 * a folder's files sent together (uploadFilesCommand, whose stdin holds them one after the other).
 */
export function uploadedFiles(log: Recorded[]): { path: string; content: string }[] {
  const files: { path: string; content: string }[] = [];
  for (const c of log) {
    const single = /mv -f "\$tmp" (.+)$/m.exec(c.command);
    if (single) files.push({ path: unquote(single[1]!), content: c.stdin ?? '' });
    const sizes = [...c.command.matchAll(/^head -c (\d+) > (\d+)$/gm)].map((m) => Number(m[1]));
    if (!sizes.length) continue;
    const stdin = Buffer.from(c.stdin ?? '');
    let at = 0;
    const contents = sizes.map((n) => stdin.subarray(at, (at += n)).toString());
    for (const m of c.command.matchAll(/^mv -f (\d+) (.+)$/gm)) files.push({ path: unquote(m[2]!), content: contents[Number(m[1])]! });
  }
  return files;
}
