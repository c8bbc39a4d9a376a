import type { Command } from '../connection/shell.js';
import type { HostContext } from './host-context.js';
import type { ProgressKind } from './progress.js';

/*
 * What a change does, as data. A step's plan returns a list of actions; the engine (execute.ts) runs
 * them, or in check mode only describes them, so what a run would do can be printed (`--check -v`) and
 * tested (role fixtures compare action lists) without a host. The one escape hatch, `call`, exists for
 * work whose next command depends on what the previous one returned (wait for a walsender to let go of
 * a slot, put files back when PostgreSQL rejects them); it carries a description of what it does.
 */

/** Runs a command on the host; fails the step on a non-zero exit. */
export interface RunAction {
  kind: 'run';
  command: Command;
  /** Run as this user (runuser/sudo) instead of the login user. */
  user?: string;
  /** Sent on standard input (secrets go here, never in argv); shown as its size only. */
  stdin?: string;
  timeoutMs?: number;
  /** Long work whose output tells how far it got: progress events from it while it runs (src/engine/progress.ts). */
  progress?: ProgressKind;
}

/** Writes a file atomically with this owner and mode. */
export interface PutAction {
  kind: 'put';
  path: string;
  content: string;
  owner?: string;
  group?: string;
  mode: string;
  /** Never shown: described by its size. */
  secret?: boolean;
}

/** SQL run by psql as the postgres OS user on the host's local server (sent on stdin). */
export interface SqlAction {
  kind: 'sql';
  port: number;
  db: string;
  sql: string;
  /** What is shown instead of `sql` when it holds a secret (a password verifier masked out). */
  shown?: string;
}

/** Starts, stops, reloads or restarts a service; on failure, `diagnose`'s output (a log tail) joins the error. */
export interface ServiceAction {
  kind: 'service';
  /** The service's name as users know it, e.g. postgresql@16-main or pgbouncer. */
  service: string;
  action: 'start' | 'stop' | 'restart' | 'reload';
  command: Command;
  user?: string;
  diagnose?: Command;
}

/** Tells a handler (Ansible's notify) that it has work to do later in the run, e.g. 'postgresql-reload'. */
export interface NotifyAction {
  kind: 'notify';
  handler: string;
  /** The handler did its work: the notification is cleared (a handler step ends with this). */
  handled?: boolean;
}

/** Work decided at execution time from what earlier actions did: described, never run in check mode. */
export interface CallAction {
  kind: 'call';
  what: string;
  fn: (ctx: HostContext) => Promise<void>;
}

export type Action = RunAction | PutAction | SqlAction | ServiceAction | NotifyAction | CallAction;

export const runAction = (command: Command, options: Omit<RunAction, 'kind' | 'command'> = {}): RunAction => ({ kind: 'run', command, ...options });

export const putAction = (file: { path: string; content: string; owner?: string; group?: string; mode?: string; secret?: boolean }): PutAction => ({
  kind: 'put',
  path: file.path,
  content: file.content,
  owner: file.owner,
  group: file.group,
  mode: file.mode ?? '0644',
  secret: file.secret,
});

export const sqlAction = (port: number, sql: string, db = 'postgres', shown?: string): SqlAction => ({ kind: 'sql', port, db, sql, shown });

export const notify = (handler: string): NotifyAction => ({ kind: 'notify', handler });
export const handled = (handler: string): NotifyAction => ({ kind: 'notify', handler, handled: true });

export const call = (what: string, fn: (ctx: HostContext) => Promise<void>): CallAction => ({ kind: 'call', what, fn });

/** One line (or a few) saying what an action does; secrets are masked by the caller. */
export function describeAction(a: Action): string {
  switch (a.kind) {
    case 'run':
      return `${a.user ? `[as ${a.user}] ` : ''}${a.command}${a.stdin !== undefined ? ` <<< (${a.stdin.length} bytes on stdin)` : ''}`;
    case 'put': {
      const owner = a.owner ? ` ${a.owner}:${a.group ?? a.owner}` : '';
      return `put ${a.path} (${a.mode}${owner}, ${a.secret ? 'secret, ' : ''}${Buffer.byteLength(a.content)} bytes)`;
    }
    case 'sql':
      return `psql -p ${a.port} -d ${a.db} <<< ${a.shown ?? a.sql}`;
    case 'service':
      return `${a.action} ${a.service}: ${a.command}`;
    case 'notify':
      return `${a.handled ? 'handled' : 'notify'} ${a.handler}`;
    case 'call':
      return `then: ${a.what}`;
  }
}

/**
 * Actions as comparable data for tests: functions and secret contents left out, commands as text.
 * `{ kind: 'put', path, mode, ... }` stays; a call keeps only what it says it does.
 */
export function actionData(actions: Action[]): Record<string, unknown>[] {
  return actions.map((a) => {
    if (a.kind === 'call') return { kind: 'call', what: a.what };
    if (a.kind === 'put' && a.secret) return { ...a, content: '(secret)' };
    return Object.fromEntries(Object.entries(a).filter(([, v]) => v !== undefined));
  });
}
