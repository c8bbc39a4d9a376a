import { sh } from '../connection/shell.js';
import type { HostContext } from '../engine/host-context.js';
import type { Run } from '../engine/run.js';
import { PAUSED_MARKER } from '../facts/pgbouncer.js';
import { pgSession, withTimeout, type PgSession } from '../steps/pg-client.js';
import { ADMIN_USER } from './credentials.js';
import type { ClusterSpec } from './vars.js';

interface Bouncer {
  host: string;
  ctx: HostContext;
  /** Sends PAUSE, which blocks until PgBouncer has released every server connection. */
  pauser: PgSession;
  /** Free while PAUSE waits: RELOAD, RECONNECT and, above all, RESUME. */
  control: PgSession;
}

export class PauseAborted extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PauseAborted';
  }
}

/**
 * The PgBouncers of a cluster, driven together through their admin consoles: a bounded, abortable
 * PAUSE (clients wait, they do not fail), commands while paused, and a RESUME that always runs.
 * Two sessions per PgBouncer, opened before anything is paused: a PAUSE that does not complete
 * (a long transaction holds a server connection) can still be undone at once from the other one.
 */
/** The members a fleet drives: PgBouncer wanted and present, and answering when the facts were read (`running`). */
export function fleetMembers(spec: ClusterSpec, running: Iterable<string>): ClusterSpec['members'] {
  const live = new Set(running);
  return spec.members.filter((m) => m.vars.pg_pgbouncer && m.vars.pg_state === 'present' && live.has(m.host));
}

export class BouncerFleet {
  /** The hosts whose PgBouncer was sent PAUSE and not RESUME yet. */
  private readonly paused = new Set<string>();

  private constructor(private readonly bouncers: Bouncer[]) {}

  /** Opens the PgBouncers of `running` (the members whose PgBouncer answered when the facts were read). */
  static async open(run: Run, spec: ClusterSpec, running: Iterable<string>, password: string): Promise<BouncerFleet> {
    const hosts = fleetMembers(spec, running);
    const session = async (host: string, port: number) =>
      withTimeout(
        pgSession(await run.context(host), { user: ADMIN_USER, password, port, database: 'pgbouncer', timeoutMs: 5000 }),
        5000,
        `connecting to PgBouncer on ${host}`,
      );
    const bouncers = await Promise.all(
      hosts.map(async (m) => ({
        host: m.host,
        ctx: await run.context(m.host),
        pauser: await session(m.host, m.vars.pg_pgbouncer_port),
        control: await session(m.host, m.vars.pg_pgbouncer_port),
      })),
    );
    return new BouncerFleet(bouncers);
  }

  get hosts(): string[] {
    return this.bouncers.map((b) => b.host);
  }

  /**
   * Leaves a marker beside each PgBouncer's pid file before it is paused, so that a run killed while
   * clients wait is found out by the next one (PgBouncer before 1.21 cannot say it is paused).
   */
  async markPausing(): Promise<void> {
    await Promise.all(this.bouncers.map((b) => b.ctx.run(sh`install -m 0644 /dev/null ${PAUSED_MARKER}`)));
  }

  private only(hosts?: string[]): Bouncer[] {
    return hosts ? this.bouncers.filter((b) => hosts.includes(b.host)) : this.bouncers;
  }

  /**
   * PAUSEs every PgBouncer (or those of `hosts`); resolves once all have released their server
   * connections. Past `timeoutMs`, or when `signal` aborts, it RESUMEs them and rejects: nothing else
   * was done. `onWait` is called every second while it waits, to say what it waits for.
   */
  async pause(opts: {
    timeoutMs: number;
    signal?: AbortSignal;
    onWait?: (waitedMs: number) => Promise<void> | void;
    keepPausedOnTimeout?: boolean;
    hosts?: string[];
  }): Promise<void> {
    const bouncers = this.only(opts.hosts);
    for (const b of bouncers) this.paused.add(b.host);
    const started = Date.now();
    const all = Promise.all(bouncers.map((b) => b.pauser.query('PAUSE')));
    all.catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    let ticker: NodeJS.Timeout | undefined;
    const stop = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new PauseAborted(`PgBouncer did not pause within ${opts.timeoutMs} ms (a transaction still holds a server connection)`)),
        opts.timeoutMs,
      );
      ticker = setInterval(() => void Promise.resolve(opts.onWait?.(Date.now() - started)).catch(() => {}), 1000);
      opts.signal?.addEventListener('abort', () => reject(new PauseAborted('interrupted while waiting for PgBouncer to pause')), { once: true });
    });
    try {
      await Promise.race([all, stop]);
    } catch (err) {
      // Failover: PgBouncer holds new queries from the moment PAUSE arrives; that is all it needs.
      if (opts.keepPausedOnTimeout && !opts.signal?.aborted) return;
      await this.resume(opts.hosts);
      throw err;
    } finally {
      clearTimeout(timer);
      clearInterval(ticker);
    }
  }

  /** Runs admin commands on every PgBouncer, or those of `hosts` (in parallel across hosts, in order on each). */
  async command(commands: string[], hosts?: string[]): Promise<void> {
    await Promise.all(
      this.only(hosts).map(async (b) => {
        for (const c of commands) await withTimeout(b.control.query(c), 5000, `${c} on PgBouncer of ${b.host}`);
      }),
    );
  }

  /** RESUME everywhere paused (or on those of `hosts`), then the markers go; never throws (failures are returned, to be reported). */
  async resume(hosts?: string[]): Promise<string[]> {
    const failed: string[] = [];
    const paused = this.only(hosts).filter((b) => this.paused.has(b.host));
    for (const b of paused) this.paused.delete(b.host);
    await Promise.all(
      paused.map(async (b) => {
        try {
          await resumeBouncer(b.control);
          await b.ctx.run(sh`rm -f ${PAUSED_MARKER}`);
        } catch (err) {
          failed.push(`${b.host}: ${(err as Error).message}`);
        }
      }),
    );
    return failed;
  }

  async close(): Promise<void> {
    await Promise.all(this.bouncers.flatMap((b) => [b.pauser.close(), b.control.close()]));
  }
}

/** RESUME on an admin session; a PgBouncer that is not paused is what RESUME wants, not an error. */
export async function resumeBouncer(session: PgSession): Promise<void> {
  await withTimeout(session.query('RESUME'), 5000, 'RESUME').catch((err: Error) => {
    if (!/not paused/i.test(err.message)) throw err;
  });
}
