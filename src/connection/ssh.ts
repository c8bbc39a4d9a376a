import { readFile } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
import { Client, type ConnectConfig } from 'ssh2';
import { learnHostKey, knownHostsName, readKnownHosts, verifyHostKey, type HostKeyChecking } from './known-hosts.js';
import { uploadCommand } from './file-upload.js';
import { CommandServer, serverCommand, serverNonce } from './command-server.js';
import { heldCommand } from './held-command.js';
import { warmUp } from '../engine/warm-up.js';
import { streamTo } from './output-stream.js';
import { asUser, sh, type Command } from './shell.js';
import { UnreachableError, type CommandResult, type Connection, type HeldCommand, type PutOptions, type RunOptions } from './types.js';

export interface SshTarget {
  /** Inventory name, used in messages. */
  name: string;
  address: string;
  port: number;
  user: string;
  privateKeyFile?: string;
  hostKeyChecking: HostKeyChecking;
  knownHostsFile: string;
  connectTimeoutMs: number;
  /** ansible_become: run every command as becomeUser (root by default) via sudo. */
  become: boolean;
  becomeUser: string;
  /** The ssh-agent socket (SSH_AUTH_SOCK of the run's environment), if any. */
  agent?: string;
  /** Run commands through one long-lived process on the host (command-server.ts) instead of an SSH exec each (default true). */
  commandServer?: boolean;
}

/** One ssh2 connection per host, opened once and multiplexed for every command, upload and forward. */
export class SshConnection implements Connection {
  private constructor(
    private readonly client: Client,
    private readonly target: SshTarget,
  ) {}

  get host(): string {
    return this.target.name;
  }

  static async open(target: SshTarget): Promise<SshConnection> {
    const knownHosts = await readKnownHosts(target.knownHostsFile);
    const name = knownHostsName(target.address, target.port);
    let rejection: string | undefined;
    let learned: string | undefined;
    const config: ConnectConfig = {
      host: target.address,
      port: target.port,
      username: target.user,
      readyTimeout: target.connectTimeoutMs,
      keepaliveInterval: 10_000,
      hostVerifier: (key: Buffer) => {
        const verdict = verifyHostKey(knownHosts, name, key, target.hostKeyChecking);
        if (!verdict.ok) rejection = verdict.reason;
        else learned = verdict.learned;
        return verdict.ok;
      },
    };
    if (target.privateKeyFile) {
      try {
        config.privateKey = await readFile(target.privateKeyFile);
      } catch (err) {
        throw new UnreachableError(target.name, `cannot read ansible_ssh_private_key_file ${target.privateKeyFile}: ${(err as Error).message}`);
      }
    }
    if (target.agent) config.agent = target.agent;

    const client = new Client();
    await new Promise<void>((resolve, reject) => {
      client.once('ready', () => resolve());
      client.once('error', (err: Error) => {
        reject(new UnreachableError(target.name, rejection ?? `ssh ${target.user}@${target.address}:${target.port}: ${err.message}`));
      });
      // A server that drops the connection during the handshake ends it without an 'error' (and the
      // ready timer stops with it): without this the run would wait for 'ready' forever.
      client.once('close', () =>
        reject(
          new UnreachableError(target.name, rejection ?? `ssh ${target.user}@${target.address}:${target.port}: the connection closed during the handshake`),
        ),
      );
      client.connect(config);
      warmUp();
    });
    if (learned) await learnHostKey(target.knownHostsFile, learned);
    // Commands are small request/response exchanges: Nagle's algorithm would add delay to each.
    client.setNoDelay(true);
    client.on('error', () => {
      /* later transport errors surface through the command that hit them */
    });
    const connection = new SshConnection(client, target);
    client.once('close', () => (connection.closed = true));
    return connection;
  }

  private closed = false;

  /** The transport is still up (no close seen): what a pool checks before it hands the connection out again. */
  get open(): boolean {
    return !this.closed;
  }

  /**
   * A round trip to the host and back, within `timeoutMs`: through the command server (started for it,
   * where it can run), so a host whose start-up files are slow does not pay them for the question.
   */
  async ping(timeoutMs: number): Promise<boolean> {
    if (this.closed) return false;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const answered = (async () => {
      this.started = await this.commandServer();
      if (this.runs < 2) this.runs = 2; // the server is up: later commands need not start it
      const r = await this.run(sh`true`, { timeoutMs });
      return r.code === 0;
    })().catch(() => false);
    try {
      return await Promise.race([answered, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private wrap(command: Command, user?: string): Command {
    const runAs = user ?? (this.target.become ? this.target.becomeUser : undefined);
    return runAs ? asUser(command, runAs, this.target.user) : command;
  }

  private server?: Promise<CommandServer | undefined>;

  /**
   * The host's command server, started on first use over one exec channel of this connection; undefined
   * when it cannot run there (no perl): every command then gets its own exec channel, as before.
   */
  private commandServer(): Promise<CommandServer | undefined> {
    if (this.target.commandServer === false) return Promise.resolve(undefined);
    this.server ??= new Promise((resolve) => {
      const nonce = serverNonce();
      this.client.exec(serverCommand(nonce), (err, channel) => {
        if (err) return resolve(undefined);
        channel.stderr.resume();
        const server = new CommandServer(nonce, channel, channel, (done) => channel.on('close', done));
        void server.ready.then((ok) => resolve(ok ? server : undefined));
      });
    });
    return this.server;
  }

  private runs = 0;
  private started?: CommandServer;

  /**
   * A host that gets one or two commands (a no-op run: its facts; info-list) is better served by an exec
   * each: the server's own start costs as much. From the second command on, the server is started in the
   * background and takes over once it is ready; until then, and when it cannot run, commands get an exec.
   * (30 lab hosts on 2 cores: info-list 1.52 s with the server from the first command, 1.14 s without.)
   */
  async run(command: Command, options: RunOptions = {}): Promise<CommandResult> {
    const full = this.wrap(command, options.user);
    if (++this.runs === 2) void this.commandServer().then((s) => (this.started = s));
    // Output heard as it arrives needs a channel of its own: the command server hands back whole results.
    const server = options.onOutput ? undefined : this.started;
    if (server?.alive) return server.run(full, options.stdin ?? '', options.timeoutMs);
    return this.exec(full, options);
  }

  /** One command on its own exec channel (the login shell starts for it, start-up files and all). */
  private exec(full: Command, options: RunOptions): Promise<CommandResult> {
    return new Promise((resolve, reject) => {
      this.client.exec(full, (err, channel) => {
        if (err) return reject(new UnreachableError(this.target.name, `ssh exec failed: ${err.message}`));
        const out: Buffer[] = [];
        const errOut: Buffer[] = [];
        let timer: NodeJS.Timeout | undefined;
        if (options.timeoutMs) {
          timer = setTimeout(() => {
            channel.close();
            reject(new Error(`command timed out after ${options.timeoutMs} ms`));
          }, options.timeoutMs);
        }
        const listen = streamTo(options.onOutput);
        channel.on('data', (d: Buffer) => (out.push(d), listen.stdout(d)));
        channel.stderr.on('data', (d: Buffer) => (errOut.push(d), listen.stderr(d)));
        channel.on('close', (code: number | null, signal?: string) => {
          if (timer) clearTimeout(timer);
          resolve({
            code: code ?? (signal ? 128 : 255),
            stdout: Buffer.concat(out).toString('utf8'),
            stderr: Buffer.concat(errOut).toString('utf8'),
          });
        });
        channel.end(options.stdin ?? '');
      });
    });
  }

  /**
   * A command whose stdin stays open: it ends with end() or with the connection. Through the command
   * server when it already runs (no login shell start-up); otherwise on an exec channel of its own.
   */
  start(command: Command, options: Pick<RunOptions, 'user'> = {}): Promise<HeldCommand> {
    if (this.started?.alive) return Promise.resolve(this.started.start(this.wrap(command, options.user)));
    return new Promise((resolve, reject) => {
      this.client.exec(this.wrap(command, options.user), (err, channel) => {
        if (err) return reject(new UnreachableError(this.target.name, `ssh exec failed: ${err.message}`));
        resolve(heldCommand({ stdin: channel, stdout: channel, stderr: channel.stderr, onClose: (done) => channel.on('close', done) }));
      });
    });
  }

  async put(path: string, content: string | Buffer, options: PutOptions = {}): Promise<void> {
    const result = await this.run(uploadCommand(path, options), { stdin: content });
    if (result.code !== 0) throw new Error(`upload of ${path} failed: ${result.stderr.trim()}`);
  }

  forward(host: string, port: number): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      this.client.forwardOut('127.0.0.1', 0, host, port, (err, channel) => {
        if (err) reject(new Error(`port forward to ${host}:${port} on ${this.target.name} failed: ${err.message}`));
        else resolve(channel);
      });
    });
  }

  async close(): Promise<void> {
    (await this.server)?.close();
    this.client.end();
  }

  /**
   * Drops the connection at once, as the death of the process holding it would (the TCP connection
   * closes; nothing is waited for): every command of it on the host reads end-of-file, and the cluster
   * lock's holder stops what the run started.
   */
  destroy(): void {
    this.closed = true;
    this.client.destroy();
  }
}
