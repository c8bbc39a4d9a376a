import type { InterruptSignal } from '../engine/run-io.js';
import type { Run } from '../engine/run.js';
import { pgSession, withTimeout, type PgSession } from '../steps/pg-client.js';
import { ADMIN_USER, clusterCredentials } from './credentials.js';
import type { ClusterSpec } from './vars.js';

/**
 * PAUSE every PgBouncer of a cluster, bounded in time, so clients wait (instead of failing) while
 * the primary restarts or moves; RESUME always follows.
 *
 *   const paused = await pauseBouncers(run, spec, { timeoutMs: 5000 });
 *   try { ...restart or move the primary... } finally { await paused.resume(); }
 *
 * or `withBouncersPaused(run, spec, opts, fn)`, which also holds off Ctrl-C while clients are paused.
 * PAUSE waits for the transactions in flight; past `timeoutMs` every PgBouncer is RESUMEd and
 * PauseTimeout is thrown, so the caller changes nothing. A PgBouncer nobody listens for is skipped:
 * no client can be waiting on it.
 */
export interface PauseOptions {
  /** How long PAUSE may take on every PgBouncer together. */
  timeoutMs: number;
  /** The admin password; by default read from the cluster's credentials. */
  password?: string;
  /** Members whose PgBouncer to pause; by default every present member with pg_pgbouncer. */
  hosts?: string[];
}

export interface PausedBouncers {
  /** Hosts whose PgBouncer is paused. */
  hosts: string[];
  /** How long the PAUSE took, ms. */
  pauseMs: number;
  /** RESUMEs every one of them; idempotent, never throws (a failed RESUME is reported as a message). */
  resume(): Promise<void>;
}

export class PauseTimeout extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PauseTimeout';
  }
}

interface Bouncer {
  host: string;
  /** Sends PAUSE, which only answers once every server connection is released. */
  pauser: PgSession;
  /** Sends RESUME: usable while `pauser` still waits for its answer. */
  control: PgSession;
}

const NOT_LISTENING = /ECONNREFUSED|Connection refused|open failure|connect failed/i;

async function connect(run: Run, spec: ClusterSpec, host: string, password: string): Promise<Bouncer | undefined> {
  const ctx = await run.context(host);
  const port = spec.members.find((m) => m.host === host)!.vars.pg_pgbouncer_port;
  const open = () => pgSession(ctx, { port, user: ADMIN_USER, password, database: 'pgbouncer' });
  let pauser: PgSession;
  try {
    pauser = await open();
  } catch (err) {
    if (NOT_LISTENING.test((err as Error).message)) return undefined;
    throw new Error(`PgBouncer on ${host}: ${(err as Error).message}`);
  }
  try {
    return { host, pauser, control: await open() };
  } catch (err) {
    await pauser.close();
    throw new Error(`PgBouncer on ${host}: ${(err as Error).message}`);
  }
}

async function resumeAll(run: Run, bouncers: Bouncer[]): Promise<void> {
  await Promise.all(
    bouncers.map(async (b) => {
      try {
        await withTimeout(b.control.query('RESUME'), 10_000, `RESUME of PgBouncer on ${b.host}`);
      } catch (err) {
        // Not paused (the PAUSE never got through) is the state RESUME wants.
        if (!/not paused/i.test((err as Error).message)) run.message(`[${b.host}] PgBouncer RESUME failed: ${(err as Error).message}`);
      }
      await Promise.all([b.pauser.close(), b.control.close()]);
    }),
  );
}

export async function pauseBouncers(run: Run, spec: ClusterSpec, opts: PauseOptions): Promise<PausedBouncers> {
  const hosts = opts.hosts ?? spec.members.filter((m) => m.vars.pg_pgbouncer && m.vars.pg_state !== 'absent').map((m) => m.host);
  const password = opts.password ?? (await clusterCredentials(spec.credentialsDir, spec.name, false, run.secrets)).admin;
  const connected = await Promise.allSettled(hosts.map((h) => connect(run, spec, h, password)));
  const bouncers = connected.flatMap((r) => (r.status === 'fulfilled' && r.value ? [r.value] : []));
  const failed = connected.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
  if (failed.length) {
    await resumeAll(run, bouncers);
    throw new PauseTimeout(`cannot pause PgBouncer: ${failed.join('; ')}`);
  }

  const started = Date.now();
  const done = new Set<string>();
  try {
    await withTimeout(Promise.all(bouncers.map((b) => b.pauser.query('PAUSE').then(() => done.add(b.host)))), opts.timeoutMs, 'PAUSE');
  } catch (err) {
    await resumeAll(run, bouncers);
    const waiting = bouncers.filter((b) => !done.has(b.host)).map((b) => b.host);
    const why = /did not finish within/.test((err as Error).message)
      ? `did not pause within ${opts.timeoutMs} ms (a client transaction or query still running?)`
      : `could not pause: ${(err as Error).message}`;
    throw new PauseTimeout(`PgBouncer on ${waiting.join(', ') || hosts.join(', ')} ${why}; every PgBouncer was resumed`);
  }
  let resumed: Promise<void> | undefined;
  return {
    hosts: bouncers.map((b) => b.host),
    pauseMs: Date.now() - started,
    resume: () => (resumed ??= resumeAll(run, bouncers)),
  };
}

/**
 * Runs `fn` with every PgBouncer of the cluster paused, and RESUMEs them afterwards whatever happens.
 * Ctrl-C (SIGINT/SIGTERM) is held off until they are resumed: ending the process now would leave clients hanging.
 */
export async function withBouncersPaused<T>(run: Run, spec: ClusterSpec, opts: PauseOptions, fn: (paused: PausedBouncers) => Promise<T>): Promise<T> {
  let interrupted: InterruptSignal | undefined;
  const stopListening = run.io.onInterrupt((signal) => {
    interrupted ??= signal;
    run.message('interrupt received: clients are resumed first');
  });
  try {
    const paused = await pauseBouncers(run, spec, opts);
    try {
      return await fn(paused);
    } finally {
      await paused.resume();
    }
  } finally {
    stopListening();
    // Clients are resumed: now the interrupt takes its ordinary course.
    if (interrupted) run.io.raise(interrupted);
  }
}
