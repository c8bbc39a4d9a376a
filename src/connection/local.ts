import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { userInfo } from 'node:os';
import { uploadCommand } from './file-upload.js';
import { heldCommand } from './held-command.js';
import { streamTo } from './output-stream.js';
import { asUser, type Command } from './shell.js';
import type { CommandResult, Connection, HeldCommand, PutOptions, RunOptions } from './types.js';

/** Runs on the machine pgtasks runs on (Ansible's `ansible_connection: local`). */
export class LocalConnection implements Connection {
  private readonly login = userInfo().username;
  constructor(readonly host: string) {}

  run(command: Command, options: RunOptions = {}): Promise<CommandResult> {
    const full = options.user ? asUser(command, options.user, this.login) : command;
    return new Promise((resolve, reject) => {
      const child = spawn('sh', ['-c', full], { stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const timer = options.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), options.timeoutMs) : undefined;
      const listen = streamTo(options.onOutput);
      child.stdout.on('data', (d: Buffer) => (out.push(d), listen.stdout(d)));
      child.stderr.on('data', (d: Buffer) => (err.push(d), listen.stderr(d)));
      child.on('error', reject);
      child.on('close', (code, signal) => {
        if (timer) clearTimeout(timer);
        resolve({ code: code ?? (signal ? 128 : 255), stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
      });
      // A command may exit without reading its stdin; that is its business, not an error.
      child.stdin.on('error', () => {});
      child.stdin.end(options.stdin ?? '');
    });
  }

  async start(command: Command, options: Pick<RunOptions, 'user'> = {}): Promise<HeldCommand> {
    const child = spawn('sh', ['-c', options.user ? asUser(command, options.user, this.login) : command], { stdio: ['pipe', 'pipe', 'pipe'] });
    return heldCommand({ stdin: child.stdin, stdout: child.stdout, stderr: child.stderr, onClose: (done) => child.on('close', done) });
  }

  async put(path: string, content: string | Buffer, options?: PutOptions): Promise<void> {
    const result = await this.run(uploadCommand(path, options), { stdin: content });
    if (result.code !== 0) throw new Error(`writing ${path} failed: ${result.stderr.trim()}`);
  }

  forward(host: string, port: number): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, host, () => resolve(socket));
      socket.once('error', reject);
    });
  }

  async close(): Promise<void> {}
}
