import { UserError } from '../errors.js';
import type { Reporter, RunEvent } from '../engine/events.js';

/** https://no-color.org: any non-empty NO_COLOR disables colour; otherwise colour only on a terminal. */
export function useColor(env: NodeJS.ProcessEnv, isTTY: boolean): boolean {
  return isTTY && !env.NO_COLOR;
}

/** Which per-host lines the text output shows, as Ansible's default callback decides. */
export interface DisplayOptions {
  okHosts: boolean;
  skippedHosts: boolean;
  /** Nothing set by the user: each task's own `display` decides (hides ok/skipped for 'changes'). */
  byTask?: boolean;
}

/**
 * `--only-changes` hides both; otherwise PGTASKS_DISPLAY_OK_HOSTS and PGTASKS_DISPLAY_SKIPPED_HOSTS,
 * named and read as Ansible's ANSIBLE_DISPLAY_OK_HOSTS and ANSIBLE_DISPLAY_SKIPPED_HOSTS, decide when
 * set. Unset, a task says (Task.display): a converging task such as configure-cluster shows its ok and
 * skipped lines only with -v (with 30 hosts a no-op run would print hundreds of them: it shows a line
 * per cluster and the recap), a task whose ok lines are its output (facts) shows them.
 */
export function displayOptions(env: NodeJS.ProcessEnv, onlyChanges: boolean, verbose = false): DisplayOptions {
  if (onlyChanges) return { okHosts: false, skippedHosts: false };
  const quiet = (name: string) => (env[name] === undefined || env[name] === '' ? undefined : !envBoolean(env, name, true));
  const ok = quiet('PGTASKS_DISPLAY_OK_HOSTS');
  const skipped = quiet('PGTASKS_DISPLAY_SKIPPED_HOSTS');
  return {
    okHosts: ok === undefined ? true : !ok,
    skippedHosts: skipped === undefined ? true : !skipped,
    byTask: !verbose && ok === undefined && skipped === undefined,
  };
}

// Ansible's boolean words for configuration values (ansible.module_utils.parsing.convert_bool).
const TRUE_WORDS = new Set(['y', 'yes', 'on', '1', 'true', 't']);
const FALSE_WORDS = new Set(['n', 'no', 'off', '0', 'false', 'f']);

function envBoolean(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const word = raw.trim().toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  throw new UserError(`${name}=${raw}: expected true or false (or yes/no, on/off, 1/0)`);
}

/**
 * Drops the ok and/or skipped step lines before they reach the text reporter. With both hidden, a TASK
 * banner is held back until something is shown under it, as Ansible does, so a run that changed
 * nothing prints only its recap (and any message a task chose to print).
 */
export class DisplayFilter implements Reporter {
  private heldBanner: RunEvent | undefined;

  private display: DisplayOptions;

  constructor(
    private readonly inner: Reporter,
    private readonly chosen: DisplayOptions,
    /** The tasks whose ok and skipped lines are shown only when asked for (Task.display 'changes'). */
    private readonly changesOnly: ReadonlySet<string> = new Set(),
  ) {
    this.display = chosen;
  }

  emit(e: RunEvent): void {
    if (e.type === 'task' && this.chosen.byTask) {
      const quiet = this.changesOnly.has(e.task);
      this.display = quiet ? { okHosts: false, skippedHosts: false } : this.chosen;
      // A converging task's banner shows even when nothing changed: its per-cluster lines come under it.
      if (quiet) return this.inner.emit(e);
    }
    if (e.type === 'step' && ((e.status === 'ok' && !this.display.okHosts) || (e.status === 'skipped' && !this.display.skippedHosts))) return;
    if (e.type === 'task' && !this.display.okHosts && !this.display.skippedHosts) {
      this.heldBanner = e;
      return;
    }
    if (e.type === 'recap') this.heldBanner = undefined;
    const printsNothing = e.type === 'result' && !e.text; // e.g. facts: its data is for --json
    if (this.heldBanner && !printsNothing) {
      this.inner.emit(this.heldBanner);
      this.heldBanner = undefined;
    }
    this.inner.emit(e);
  }
}
