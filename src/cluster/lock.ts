import { reads, type ReadCommand } from '../engine/host-view.js';
import { randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { sh, type Command } from '../connection/shell.js';
import { UnreachableError, type HeldCommand } from '../connection/types.js';
import type { Run } from '../engine/run.js';
import { withTimeout } from '../steps/pg-client.js';
import {
  describeHolder,
  holderScript,
  lockFiles,
  parseLockReply,
  probeScript,
  RUN_TAG_VAR,
  runTag,
  splitReadAfterLock,
  type Holder,
  type LockReply,
} from './lock-script.js';
import type { ClusterSpec } from './vars.js';

/**
 * The cluster lock: every task that changes a cluster holds it on every reachable member for as long
 * as it works, so two runs never change one cluster at once, and a run that died is noticed (and what
 * it left running is stopped, its half-made side directories removed) before the next one reads facts.
 * The host side is in lock-script.ts. One extra round trip per host, all hosts in parallel, on the
 * host's existing SSH connection; the lock lives as long as that connection.
 */

/**
 * The id of the run holding each cluster's lock in this process (a new one per acquisition: tests run
 * many runs in one process); long commands carry it in PGTASKS_RUN. Outside a lock, a per-process id.
 */
const runIds = new Map<string, string>();
const PROCESS_RUN_ID = randomBytes(6).toString('hex');
const runIdOf = (cluster: string) => runIds.get(cluster) ?? PROCESS_RUN_ID;

/** Without a heartbeat for this long, a host frees the lock by itself (a controller gone without a word). */
export const LEASE_SECONDS = 60;
const HEARTBEAT_MS = 10_000;

/**
 * The first line of a script running a long command (pg_basebackup, initdb, pg_rewind): marks the
 * script and everything it starts, so a later run can stop them if this run dies.
 */
export function longCommandEnv(cluster: string): Command {
  return sh`export ${RUN_TAG_VAR}=${runTag(cluster, runIdOf(cluster))}`;
}

/** The same mark as a prefix for one command (`PGTASKS_RUN=... pg_rewind ...`): the rest of its script is not marked. */
export function runTagAssignment(cluster: string): Command {
  return sh`${RUN_TAG_VAR}=${runTag(cluster, runIdOf(cluster))}`;
}

interface HostLock {
  host: string;
  cmd: HeldCommand;
  /** The holder ended before we released it: the connection dropped. */
  lost: boolean;
}

interface ClusterLock {
  hosts: HostLock[];
  heartbeat?: NodeJS.Timeout;
}

/** Locks this run holds, by cluster: tasks nest (migrate-to-master converges with configure-cluster's roles). */
const held = new WeakMap<Run, Map<string, ClusterLock>>();

/** The run before this one that held a cluster's lock and did not finish, as its lock file told (by cluster). */
const unfinished = new WeakMap<Run, Map<string, Holder>>();

/**
 * The run that held `cluster`'s lock before this one and did not finish (killed, or its connection
 * lost), found when this run took the lock: a task can finish what that run started.
 */
export function unfinishedRunOf(run: Run, cluster: string): Holder | undefined {
  return unfinished.get(run)?.get(cluster);
}

export interface LockOptions {
  /**
   * The read `fn` starts with (the cluster's facts): each host runs it right after taking the lock, in
   * the same round trip, and its result answers the first ctx.read() of that very command (see
   * HostContext.prefetch). One exec and one shell start-up less per host and run.
   */
  thenRead?: ReadCommand;
}

/**
 * Runs `fn` holding the cluster's lock. When another run holds it, refuses (exit 1) naming the holder
 * and returns undefined without calling `fn`. In check mode nothing is taken or changed: a held lock is
 * still a refusal, and what a real run would clean up is shown.
 */
export async function withClusterLock<T>(run: Run, spec: ClusterSpec, task: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T | undefined> {
  let mine = held.get(run);
  if (!mine) held.set(run, (mine = new Map()));
  if (mine.has(spec.name)) return fn();
  const runId = randomBytes(6).toString('hex');
  const lock = await acquire(run, spec, task, runId, options.thenRead);
  if (!lock) return undefined;
  mine.set(spec.name, lock);
  runIds.set(spec.name, runId);
  try {
    return await fn();
  } finally {
    mine.delete(spec.name);
    runIds.delete(spec.name);
    await release(run, lock);
  }
}

type HostAttempt = { host: string; reply?: LockReply; cmd?: HeldCommand; error?: string; unreachable?: boolean };

/** How long a run waits for the lock of a run of this machine that died (its holders still stopping what it started). */
const DEAD_HOLDER_WAIT_MS = 20_000;

async function acquire(
  run: Run,
  spec: ClusterSpec,
  task: string,
  runId: string,
  thenRead: ReadCommand | undefined,
  deadline = Date.now() + DEAD_HOLDER_WAIT_MS,
): Promise<ClusterLock | undefined> {
  const holder: Holder = {
    user: userInfo().username,
    host: hostname(),
    pid: run.io.pid,
    task,
    since: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    run: runId,
  };
  const attempts = await Promise.all(spec.members.map((m) => lockHost(run, m.host, spec.name, holder, thenRead)));
  const acquired: HostLock[] = attempts.flatMap((a) => (a.cmd && a.reply?.state === 'locked' ? [{ host: a.host, cmd: a.cmd, lost: false }] : []));
  const lock: ClusterLock = { hosts: acquired };
  for (const h of acquired) void h.cmd.exited.then(() => (h.lost = true));

  // A lock still held by a run of this machine whose process is gone: its holder on that host is
  // stopping what the run started and frees the lock when done. Waiting for it (bounded) is what
  // "one re-run converges" needs right after a kill; a live holder is refused at once.
  const dying = attempts.filter((a) => a.reply?.state === 'held' && a.reply.holder?.host === holder.host && run.io.alive?.(a.reply.holder.pid) === false);
  const busyNow = attempts.filter((a) => a.reply?.state === 'held');
  if (busyNow.length && dying.length === busyNow.length && Date.now() < deadline) {
    await release(run, lock);
    await new Promise((r) => setTimeout(r, 500));
    return acquire(run, spec, task, runId, thenRead, deadline);
  }

  for (const a of attempts) if (a.reply) reportCleanup(run, a.host, a.reply);
  const holderOf = (a: HostAttempt) => (a.reply?.state === 'held' ? describeHolder(a.reply.holder) : undefined);
  const aliveOf = (a: HostAttempt) => (a.reply?.state === 'locked' || a.reply?.state === 'free' ? a.reply.alive : undefined);
  const busy = attempts.filter(holderOf);
  const failed = attempts.filter((a) => a.error || aliveOf(a));
  if (busy.length || failed.length) {
    await release(run, lock);
    const why: string[] = [];
    if (busy.length) {
      const holders = new Map<string, string[]>();
      for (const b of busy) holders.set(holderOf(b)!, [...(holders.get(holderOf(b)!) ?? []), b.host]);
      why.push(`another pgtasks run is working on it: ${[...holders].map(([who, hosts]) => `${who}, on ${hosts.join(', ')}`).join('; ')}`);
    }
    for (const f of failed) why.push(`cannot take the lock on ${f.host}: ${f.error ?? `processes of the previous run would not stop (pids ${aliveOf(f)})`}`);
    run.refuse(`cluster ${spec.name}: ${why.join('; ')}; nothing was changed`);
    return undefined;
  }
  const stale = attempts.map((a) => (a.reply?.state === 'locked' || a.reply?.state === 'free' ? a.reply.stale : undefined)).find(Boolean);
  if (stale) {
    if (!unfinished.has(run)) unfinished.set(run, new Map());
    unfinished.get(run)!.set(spec.name, stale);
  }
  if (acquired.length) {
    lock.heartbeat = setInterval(() => acquired.forEach((h) => h.cmd.write('ping\n')), HEARTBEAT_MS);
    lock.heartbeat.unref();
  }
  return lock;
}

async function lockHost(run: Run, host: string, cluster: string, holder: Holder, thenRead?: ReadCommand): Promise<HostAttempt> {
  try {
    return await tryLockHost(run, host, cluster, holder, thenRead);
  } catch (err) {
    // Unreachable: the task's own facts report it, and decide whether it can go on without the host.
    if (err instanceof UnreachableError) return { host, unreachable: true };
    return { host, error: (err as Error).message };
  }
}

async function tryLockHost(run: Run, host: string, cluster: string, holder: Holder, thenRead?: ReadCommand): Promise<HostAttempt> {
  const ctx = await run.context(host);
  const { lock } = lockFiles({ cluster });
  // The read after the lock is one of the run's reads: shown as such (-vv), and kept for the first
  // ctx.read() of the same command. A held lock runs no read; the task then reads nothing anyway.
  const keepRead = (stdout: string) => {
    const { lock: lines, read } = splitReadAfterLock(stdout);
    if (thenRead && read) ctx.prefetch(thenRead, { code: read.code, stdout: read.stdout, stderr: '' });
    return lines;
  };
  if (thenRead && run.options.showReads) run.emit({ type: 'command', host, command: run.secrets.mask(thenRead) });
  if (run.options.check) {
    const r = await ctx.read(reads(probeScript({ cluster, thenRead })), { allowFailure: true });
    const reply = parseLockReply(keepRead(r.stdout), true);
    return reply.state === 'incomplete' ? { host, error: r.stderr.trim() || `exit ${r.code}` } : { host, reply };
  }
  if (!ctx.connection.start) return { host, error: 'its connection cannot hold a lock' };
  if (run.options.verbose) run.emit({ type: 'command', host, command: `flock ${lock} (held until the run ends)` });
  const cmd = await ctx.connection.start(holderScript({ cluster, holder, leaseSeconds: LEASE_SECONDS, thenRead }));
  const reply = await new Promise<LockReply>((resolve) => {
    let exited = false;
    let answered = false;
    const check = () => {
      // Once: a later call (the holder's exit at the end of the run) must not offer the read again.
      if (answered) return;
      const { lock: lines, read } = splitReadAfterLock(cmd.stdout);
      const r = parseLockReply(lines, exited);
      // Locked with a read asked for: the reply is whole once the read has ended too.
      if (r.state === 'locked' && thenRead && !read && !exited) return;
      if (r.state !== 'incomplete' || exited) {
        answered = true;
        keepRead(cmd.stdout);
        resolve(r);
      }
    };
    cmd.onOutput(check);
    void cmd.exited.then(() => {
      exited = true;
      check();
    });
    // The reply may have arrived while start() was resolving, before the listener existed: a fast
    // host answered and then waited forever for a run that was waiting for its answer.
    check();
  });
  if (reply.state === 'incomplete') {
    const r = await cmd.exited;
    return { host, error: r.stderr.trim().split('\n').slice(-3).join(' / ') || `exit ${r.code}` };
  }
  return { host, reply, cmd };
}

/** What a dead previous run left, and what was done about it, on the host's line. */
function reportCleanup(run: Run, host: string, reply: LockReply): void {
  if (reply.state !== 'locked' && reply.state !== 'free') return;
  const check = run.options.check;
  const did = (done: string, would: string) => (check ? would : done);
  const parts: string[] = [];
  if (reply.stale) parts.push(`the previous run did not finish (${describeHolder(reply.stale)})`);
  if (reply.stoppedAtDeath.length) parts.push(`its commands were stopped when it went: ${reply.stoppedAtDeath.map((s) => `pid ${s}`).join('; ')}`);
  // pg_rewind writes into the data directory itself: stopped half-way, it leaves one nothing can start from.
  if ([...reply.stoppedAtDeath, ...reply.stopped].some((s) => /\bpg_rewind\b/.test(s))) {
    parts.push(`pg_rewind was interrupted, so ${host}'s data directory is unusable: run 'pgtasks rejoin --host ${host} --full'`);
  }
  if (reply.stopped.length) parts.push(`${did('stopped', 'would stop')} what it left running: ${reply.stopped.map((s) => `pid ${s}`).join('; ')}`);
  if (reply.removed.length) parts.push(`${did('removed', 'would remove')} half-made ${reply.removed.join(', ')}`);
  if (reply.kept.length) parts.push(`left ${reply.kept.join(', ')} alone: a server runs on it`);
  if (!parts.length) return;
  const changed = reply.stopped.length > 0 || reply.removed.length > 0;
  run.emit({ type: 'step', host, step: 'lock', status: changed ? 'changed' : 'ok', message: parts.join('; '), check });
}

async function release(run: Run, lock: ClusterLock): Promise<void> {
  if (lock.heartbeat) clearInterval(lock.heartbeat);
  await Promise.all(
    lock.hosts.map(async (h) => {
      if (h.lost) {
        run.message(`[${h.host}] the cluster lock ended before the run did (connection lost?)`);
        return;
      }
      // The answer, not the exit: the holder still looks for stragglers of this run after answering.
      const released = new Promise<void>((resolve) => {
        const check = () => (h.cmd.stdout.includes('@@released') ? resolve() : undefined);
        h.cmd.onOutput(check);
        void h.cmd.exited.then(() => resolve());
      });
      h.cmd.write('release\n');
      await withTimeout(released, 5000, 'releasing the cluster lock').catch((err: Error) => run.message(`[${h.host}] ${err.message}`));
      h.cmd.end();
    }),
  );
}
