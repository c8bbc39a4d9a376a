import { stat } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
import type { SshTarget } from '../connection/ssh.js';
import type { Command } from '../connection/shell.js';
import type { CommandResult, Connection, HeldCommand, PutOptions, RunOptions } from '../connection/types.js';
import { sshConnector, sshTarget, type Connector } from '../engine/run.js';

/** How long a returned connection may wait for its lock holders and forwards to finish closing. */
const SETTLE_MS = 1000;
/** A pooled connection answers a ping within this, or a fresh one is opened. */
const PING_MS = 2000;

/** The files a connection's trust rests on: a changed key or known_hosts file means a new connection. */
async function stamp(path: string | undefined): Promise<string> {
  if (!path) return '-';
  try {
    const s = await stat(path);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return 'absent';
  }
}

/** What the pool needs of a connection beyond Connection (SshConnection has it). */
export interface Poolable extends Connection {
  readonly open: boolean;
  ping(timeoutMs: number): Promise<boolean>;
  /** Dropped at once, as the death of the process holding it would drop it. */
  destroy(): void;
  start(command: Command, options?: Pick<RunOptions, 'user'>): Promise<HeldCommand>;
}

const openSsh = async (target: SshTarget): Promise<Poolable> => (await import('../connection/ssh.js')).SshConnection.open(target);

/** Which connections can serve a target (`where`), and on what trust (`stamps`): same where, other stamps is stale. */
async function keyOf(target: SshTarget): Promise<{ where: string; stamps: string }> {
  return { where: JSON.stringify(target), stamps: `${await stamp(target.privateKeyFile)} ${await stamp(target.knownHostsFile)}` };
}

/**
 * The SSH connections a persistent process keeps between runs (as OpenSSH's ControlPersist does for
 * Ansible), each with its command server. A connection serves one run at a time; it goes back to the
 * pool only when that run left nothing on it (no command, lock holder or forward still open), and it
 * must answer a ping before the next run gets it.
 */
export class ConnectionPool {
  private readonly idle = new Map<string, { stamps: string; connection: Poolable }[]>();

  constructor(readonly openConnection: (target: SshTarget) => Promise<Poolable> = openSsh) {}

  /** How many connections wait for a run (tests). */
  get size(): number {
    return [...this.idle.values()].reduce((n, l) => n + l.length, 0);
  }

  /** An idle connection to `key.where` that still answers; one made on other trust (a key or known_hosts file changed since) is closed. */
  async take(key: { where: string; stamps: string }): Promise<Poolable | undefined> {
    for (let e = this.idle.get(key.where)?.pop(); e; e = this.idle.get(key.where)?.pop()) {
      if (e.stamps === key.stamps && (await e.connection.ping(PING_MS))) return e.connection;
      void e.connection.close();
    }
    return undefined;
  }

  give(key: { where: string; stamps: string }, connection: Poolable): void {
    if (!connection.open) return;
    this.idle.set(key.where, [...(this.idle.get(key.where) ?? []), { stamps: key.stamps, connection }]);
  }

  async closeAll(): Promise<void> {
    const all = [...this.idle.values()].flat();
    this.idle.clear();
    await Promise.all(all.map((e) => e.connection.close().catch(() => {})));
  }

  /** A run's use of the pool: its connector, and abort() for a run whose command went away. */
  lease(): Lease {
    return new Lease(this);
  }
}

export class Lease {
  private readonly mine = new Set<PooledConnection>();
  private aborted = false;

  constructor(private readonly pool: ConnectionPool) {}

  readonly connector: Connector = async (host, vars, env) => {
    if (vars.ansible_connection === 'local') return sshConnector(host, vars, env);
    if (this.aborted) throw new Error('the run was stopped');
    const target = sshTarget(host, vars, env);
    const key = await keyOf(target);
    const inner = (await this.pool.take(key)) ?? (await this.pool.openConnection(target));
    const connection = new PooledConnection(inner, (clean) => (clean && !this.aborted ? this.pool.give(key, inner) : void inner.close()));
    this.mine.add(connection);
    if (this.aborted) connection.destroy();
    return connection;
  };

  /**
   * The command that started the run is gone (killed, or its terminal closed): every connection of the
   * run is closed at once, as the command's own death would have closed them, so each host's lock holder
   * stops what the run started there and frees the lock.
   */
  abort(): void {
    this.aborted = true;
    for (const c of this.mine) c.destroy();
  }
}

/** A pooled connection as one run sees it: closing it hands it back, if the run left it clean. */
class PooledConnection implements Connection {
  private busy = 0;
  private destroyed = false;
  private done = false;
  private readonly held = new Set<Promise<unknown>>();
  private readonly forwards = new Set<Promise<unknown>>();

  constructor(
    private readonly inner: Poolable,
    private readonly onDone: (clean: boolean) => void,
  ) {}

  get host(): string {
    return this.inner.host;
  }

  private async counted<T>(work: Promise<T>): Promise<T> {
    this.busy++;
    try {
      return await work;
    } finally {
      this.busy--;
    }
  }

  run(command: Command, options?: RunOptions): Promise<CommandResult> {
    return this.counted(this.inner.run(command, options));
  }

  put(path: string, content: string | Buffer, options?: PutOptions): Promise<void> {
    return this.counted(this.inner.put(path, content, options));
  }

  async forward(host: string, port: number): Promise<Duplex> {
    const channel = await this.counted(this.inner.forward(host, port));
    const closed = new Promise<void>((resolve) => channel.once('close', () => resolve()));
    this.forwards.add(closed);
    void closed.then(() => this.forwards.delete(closed));
    return channel;
  }

  async start(command: Command, options?: Pick<RunOptions, 'user'>): Promise<HeldCommand> {
    const held = await this.counted(this.inner.start(command, options));
    const exited = held.exited.then(() => {});
    this.held.add(exited);
    void exited.then(() => this.held.delete(exited));
    return held;
  }

  /** Drops the connection now, unless the run already handed it back (it may serve another run by then). */
  destroy(): void {
    if (this.done) return;
    this.destroyed = true;
    this.inner.destroy();
  }

  /** The run is done with it: back to the pool once its lock holders and forwards have closed (briefly awaited). */
  async close(): Promise<void> {
    if (this.done) return;
    this.done = true;
    const settled = Promise.all([...this.held, ...this.forwards]).then(() => true);
    const clean = await Promise.race([settled, new Promise<false>((r) => setTimeout(() => r(false), SETTLE_MS).unref())]);
    this.onDone(clean && !this.destroyed && this.busy === 0 && this.inner.open);
  }
}
