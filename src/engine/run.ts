import { AsyncLocalStorage } from 'node:async_hooks';
import pMap from 'p-map';
import { LocalConnection } from '../connection/local.js';
import { sshTargetFromVars } from '../connection/target.js';
import type { SshTarget } from '../connection/ssh.js';
import { UnreachableError, type Connection } from '../connection/types.js';
import { selectHosts, type Inventory } from '../inventory/index.js';
import { ChangeLog } from './changes.js';
import { emptyStats, type HostStats, type Reporter, type RunEvent } from './events.js';
import { HostContext } from './host-context.js';
import { detachedIO, type RunIO } from './run-io.js';
import { Secrets } from './secrets.js';
import { StepFailed } from './step.js';
import { Templates } from './templates.js';

export interface RunOptions {
  check: boolean;
  diff: boolean;
  verbose: boolean;
  /** -vv: reads (facts, probes, read-only queries) are shown too, not only what changes hosts. */
  showReads?: boolean;
  forks: number;
  limit?: string;
  json: boolean;
  /** Colour in text output: a terminal, and no NO_COLOR (set by the CLI; off when unset). */
  color?: boolean;
}

/** Opens a host's connection; `env` is the run's injected environment (SSH_AUTH_SOCK). */
export type Connector = (host: string, vars: Record<string, unknown>, env: NodeJS.ProcessEnv) => Promise<Connection>;

/** Where and how a host is reached over SSH: its inventory variables and the run's environment. */
export function sshTarget(host: string, vars: Record<string, unknown>, env: NodeJS.ProcessEnv): SshTarget {
  return {
    ...sshTargetFromVars(host, vars),
    agent: env.SSH_AUTH_SOCK || undefined,
    // PGTASKS_COMMAND_SERVER=0: an SSH exec per command, as before the command server (for comparisons).
    commandServer: env.PGTASKS_COMMAND_SERVER !== '0',
  };
}

/** SSH by default; `ansible_connection: local` runs on this machine, as in Ansible. */
export const sshConnector: Connector = async (host, vars, env) =>
  vars.ansible_connection === 'local'
    ? new LocalConnection(host)
    : // ssh2 loads only when a host is contacted: --list and --help stay instant.
      (await import('../connection/ssh.js')).SshConnection.open(sshTarget(host, vars, env));

export interface HostOutcome {
  succeeded: string[];
  failed: string[];
  unreachable: string[];
}

/**
 * One invocation's shared state (invoke's Context): the inventory, the options, a connection per host
 * opened on first use and reused by every task of the call, and the per-host stats for the recap.
 * Everything a run keeps is here, none of it module-wide: its secrets (masked in all its output), its
 * template environment, and what it needs from the process (`io`: environment, Ctrl-C, terminal).
 */
export class Run implements Reporter {
  readonly stats = new Map<string, HostStats>();
  private readonly contexts = new Map<string, Promise<HostContext>>();
  /** Values masked in everything this run prints: `run.secrets.register(password)`. */
  readonly secrets: Secrets;
  readonly templates = new Templates();
  /** Which hosts the engine changed, and when (facts read before a change are stale). */
  readonly changes = new ChangeLog();

  constructor(
    private readonly inventoryLoader: () => Promise<Inventory>,
    readonly options: RunOptions,
    private readonly reporter: Reporter,
    private readonly connector: Connector = sshConnector,
    readonly io: RunIO = detachedIO(),
    secrets: Secrets = new Secrets(),
  ) {
    this.secrets = secrets;
  }

  private inventoryPromise?: Promise<Inventory>;
  inventory(): Promise<Inventory> {
    this.inventoryPromise ??= this.inventoryLoader();
    return this.inventoryPromise;
  }

  emit(event: RunEvent): void {
    if (event.type === 'step') {
      const s = this.statsOf(event.host);
      s[event.status === 'unreachable' ? 'unreachable' : event.status]++;
    }
    this.reporter.emit(event);
  }

  private statsOf(host: string): HostStats {
    let s = this.stats.get(host);
    if (!s) this.stats.set(host, (s = emptyStats()));
    return s;
  }

  /** Hosts matching `pattern` (default all), narrowed by --limit, in inventory order. */
  async hosts(pattern = 'all'): Promise<string[]> {
    const inv = await this.inventory();
    const selected = selectHosts(inv, pattern);
    if (!this.options.limit) return selected;
    const limited = new Set(selectHosts(inv, this.options.limit));
    return selected.filter((h: string) => limited.has(h));
  }

  async vars(host: string): Promise<Record<string, unknown>> {
    const h = (await this.inventory()).hosts.get(host);
    if (!h) throw new Error(`unknown host ${host}`);
    return h.vars;
  }

  /** The host's context, connecting on first use; every later call reuses the same connection. */
  context(host: string): Promise<HostContext> {
    let ctx = this.contexts.get(host);
    if (!ctx) {
      ctx = (async () => {
        const vars = await this.vars(host);
        try {
          const connection = await this.connector(host, vars, this.io.env);
          return new HostContext(host, vars, connection, this, this.options, this.secrets, () => this.changes.record(host));
        } catch (err) {
          // Counted here, not only in onHosts: a role that connects by itself must still exit 4.
          if (err instanceof UnreachableError) this.reportUnreachable(host, err);
          throw err;
        }
      })();
      this.contexts.set(host, ctx);
      // A host that could not be reached stays unreached for this run: asking again (the lock, then
      // the facts, then a role) would cost the SSH timeout each time on a host that is powered off.
      ctx.catch(() => {});
    }
    return ctx;
  }

  /**
   * Runs `fn` on every host in parallel (up to --forks). A host that fails or cannot be reached is
   * reported and left out; the others go on. Returns who succeeded.
   */
  async onHosts(hosts: string[], fn: (ctx: HostContext) => Promise<void>): Promise<HostOutcome> {
    const outcome: HostOutcome = { succeeded: [], failed: [], unreachable: [] };
    await pMap(
      hosts,
      async (host) => {
        try {
          await fn(await this.context(host));
          outcome.succeeded.push(host);
        } catch (err) {
          this.hostError(host, err, outcome);
        }
      },
      { concurrency: Math.max(1, this.options.forks) },
    );
    const order = (list: string[]) => hosts.filter((h) => list.includes(h));
    return { succeeded: order(outcome.succeeded), failed: order(outcome.failed), unreachable: order(outcome.unreachable) };
  }

  private readonly unreachableSeen = new Set<string>();
  /** One UNREACHABLE line per host and reason, however many tasks or roles try the host. */
  private reportUnreachable(host: string, err: UnreachableError): void {
    const key = `${host}\n${err.message}`;
    if (this.unreachableSeen.has(key)) return;
    this.unreachableSeen.add(key);
    this.emit({ type: 'step', host, step: 'connect', status: 'unreachable', message: this.secrets.mask(err.message), check: this.options.check });
  }

  private hostError(host: string, err: unknown, outcome: HostOutcome): void {
    if (err instanceof UnreachableError) {
      outcome.unreachable.push(host);
      this.reportUnreachable(host, err);
    } else {
      outcome.failed.push(host);
      // StepFailed was reported by runStep already; anything else is a failure outside a step.
      if (!(err instanceof StepFailed)) {
        this.emit({ type: 'step', host, step: 'error', status: 'failed', message: this.secrets.mask((err as Error).message), check: this.options.check });
      }
    }
  }

  message(text: string): void {
    this.emit({ type: 'message', text: this.secrets.mask(text) });
  }

  /** A condition that makes the run's exit code non-zero without being a failure to report (e.g. degraded). */
  readonly flags: string[] = [];
  flag(text: string): void {
    this.flags.push(text);
  }

  /** A task-level refusal or failure that is no single host's (e.g. a refused cluster plan). */
  readonly refusals: string[] = [];
  /** Where refusals are also collected for the work that is running (one cluster of a fleet: see src/cluster/fleet.ts). */
  readonly refusalScope = new AsyncLocalStorage<string[]>();
  refuse(text: string): void {
    this.refusals.push(text);
    this.refusalScope.getStore()?.push(text);
    this.emit({ type: 'message', text: this.secrets.mask(`REFUSED: ${text}`) });
  }

  /** Hosts whose being unreachable is the task's premise (failover's dead primary), not a failure. */
  private readonly excused = new Set<string>();
  excuseUnreachable(host: string): void {
    this.excused.add(host);
  }

  /**
   * The exit code, as the README gives it: 2 when a host failed, else 4 when a host was unreachable
   * (a refused host key included), else 1 when a task refused (or flagged a problem), else 0.
   * Unreachable wins over a refusal: the refusal is usually because of it, and 4 says "retry later".
   */
  exitCode(): number {
    const hosts = [...this.stats.entries()];
    if (hosts.some(([, s]) => s.failed > 0)) return 2;
    if (hosts.some(([h, s]) => s.unreachable > 0 && !this.excused.has(h))) return 4;
    return this.refusals.length || this.flags.length ? 1 : 0;
  }

  async close(): Promise<void> {
    const all = await Promise.allSettled(this.contexts.values());
    await Promise.all(all.map((r) => (r.status === 'fulfilled' ? r.value.connection.close() : undefined)));
    this.contexts.clear();
  }
}
