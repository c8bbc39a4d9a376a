import type { Duplex } from 'node:stream';
import type { Command } from './shell.js';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Sent on the command's standard input: the only way secrets reach a host (never argv, never env). */
  stdin?: string | Buffer;
  /** Run as this user instead of the login user (sudo, or runuser when logged in as root). */
  user?: string;
  timeoutMs?: number;
  /** Hears the output as it arrives (progress of long work); the result still holds all of it. */
  onOutput?: (stream: 'stdout' | 'stderr', chunk: string) => void;
}

export interface PutOptions {
  owner?: string;
  group?: string;
  /** Octal string as chmod takes it, e.g. '0600'. */
  mode?: string;
}

/** What every connector (SSH, local) offers a step. One connection per host, reused for the whole run. */
export interface Connection {
  readonly host: string;
  /** Only a Command (built by sh`` and its helpers, src/connection/shell.ts): no value reaches a shell unquoted. */
  run(command: Command, options?: RunOptions): Promise<CommandResult>;
  /** Writes a file atomically (temp file + rename) in one round trip; content goes over stdin. */
  put(path: string, content: string | Buffer, options?: PutOptions): Promise<void>;
  /** A byte stream to a TCP port as seen from the host (e.g. its local PostgreSQL). */
  forward(host: string, port: number): Promise<Duplex>;
  /** Starts a command that runs while the caller keeps its stdin open (a lock holder), on this same connection. */
  start?(command: Command, options?: Pick<RunOptions, 'user'>): Promise<HeldCommand>;
  close(): Promise<void>;
}

/** A command started with Connection.start(): it ends when its stdin is closed, or when the connection goes. */
export interface HeldCommand {
  /** Standard output so far; `onOutput` listeners hear each new chunk. */
  readonly stdout: string;
  onOutput(listener: () => void): void;
  write(text: string): void;
  /** Closes stdin (after `text`) and resolves once the command has exited. */
  end(text?: string): Promise<CommandResult>;
  /** Resolves when the command exits, whoever ended it. */
  readonly exited: Promise<CommandResult>;
}

/** The host could not be reached or authenticated: reported as UNREACHABLE, not as a failed step. */
export class UnreachableError extends Error {
  constructor(
    readonly host: string,
    message: string,
  ) {
    super(message);
    this.name = 'UnreachableError';
  }
}
