import type { HostStats, Reporter, RunEvent, Status } from '../engine/events.js';
import { formatProgress } from '../engine/progress.js';

type Write = (text: string) => void;

const COLORS: Record<Status | 'title' | 'dim', string> = {
  ok: '32',
  changed: '33',
  skipped: '36',
  failed: '31',
  unreachable: '31',
  title: '1',
  dim: '2',
};

/**
 * Ansible-style lines: a TASK header, one line per host and step as results arrive, then a recap.
 * Colour only on a TTY, so `watch pgtasks info-list` and pipes get plain text.
 *
 * A task whose output is only its result (`inventory --list`'s JSON, `info-list`'s table) gets its TASK
 * header only when `resultHeaders` (stdout is a terminal): piped, stdout holds nothing but the result,
 * as `ansible-inventory --list | jq` expects. The header waits for the task's first event to know which
 * kind of task it heads.
 *
 * Progress of long work: on a terminal (`live`) one line per host, rewritten in place below everything
 * else (erased before any other line is written, drawn again after it) until the host's step reports;
 * otherwise a plain line per host every `progressEveryMs` (and the last one), so a log stays readable.
 */
export class TextReporter implements Reporter {
  private heldBanner: string | undefined;
  /** Progress lines now shown, by host (with the step they belong to). */
  private readonly progress = new Map<string, { step: string; line: string; printedAt: number; done: number }>();
  private drawn = 0;

  constructor(
    private readonly write: Write,
    private readonly color: boolean,
    private readonly resultHeaders = true,
    private readonly live: boolean = resultHeaders,
    private readonly now: () => number = Date.now,
    private readonly progressEveryMs = 5000,
  ) {}

  private paint(kind: keyof typeof COLORS, text: string): string {
    return this.color ? `\x1b[${COLORS[kind]}m${text}\x1b[0m` : text;
  }

  emit(e: RunEvent): void {
    if (e.type === 'progress') return this.showProgress(e);
    this.erase();
    this.print(e);
    if (e.type === 'step') {
      if (this.progress.get(e.host)?.step === e.step) this.progress.delete(e.host);
    }
    if (e.type === 'recap') this.progress.clear();
    this.draw();
  }

  private showProgress(e: Extract<RunEvent, { type: 'progress' }>): void {
    const line = `[${e.host}] ${e.step}: ${formatProgress(e)}`;
    const finished = e.total !== undefined && e.done >= e.total;
    if (this.live) {
      this.erase();
      this.progress.set(e.host, { step: e.step, line, printedAt: 0, done: e.done });
      this.draw();
      return;
    }
    const last = this.progress.get(e.host);
    const at = this.now();
    if (last?.step === e.step && !(finished && e.done !== last.done) && at - last.printedAt < this.progressEveryMs) return;
    this.write(this.paint('dim', line) + '\n');
    this.progress.set(e.host, { step: e.step, line, printedAt: at, done: e.done });
  }

  /** Removes the live progress lines (the cursor goes back to where the first one began). */
  private erase(): void {
    if (!this.live || this.drawn === 0) return;
    this.write(`\x1b[${this.drawn}A\r\x1b[J`);
    this.drawn = 0;
  }

  private draw(): void {
    if (!this.live || this.progress.size === 0) return;
    this.write([...this.progress.values()].map((p) => `${this.paint('dim', p.line)}\n`).join(''));
    this.drawn = this.progress.size;
  }

  private print(e: Exclude<RunEvent, { type: 'progress' }>): void {
    if (this.heldBanner !== undefined) {
      if (this.resultHeaders || e.type !== 'result' || !e.text) this.write(this.heldBanner);
      this.heldBanner = undefined;
    }
    switch (e.type) {
      case 'task':
        this.heldBanner = this.paint('title', `TASK [${e.task}]${e.check ? ' (check mode: nothing is changed)' : ''}`) + '\n';
        break;
      case 'step': {
        const label = e.status === 'unreachable' ? 'fatal' : e.status === 'changed' && e.check ? 'would change' : e.status;
        const msg = e.message ? `: ${e.message}` : '';
        const kind = e.status;
        this.write(`${this.paint(kind, `${label}: [${e.host}]`)} ${e.step}${e.status === 'unreachable' ? ' UNREACHABLE' : ''}${msg}\n`);
        if (e.diff) this.write(indent(this.colorDiff(e.diff)) + '\n');
        break;
      }
      case 'command':
        this.write(this.paint('dim', `  [${e.host}] $ ${e.command.split('\n').join('\n      ')}`) + '\n');
        break;
      case 'message':
        this.write(`${e.host ? `[${e.host}] ` : ''}${e.text}\n`);
        break;
      case 'result':
        if (e.text) this.write(e.text.endsWith('\n') ? e.text : `${e.text}\n`);
        break;
      case 'recap':
        this.write(this.recap(e.hosts));
        break;
    }
  }

  private colorDiff(diff: string): string {
    if (!this.color) return diff;
    return diff
      .split('\n')
      .map((l) => (l.startsWith('+') ? this.paint('ok', l) : l.startsWith('-') ? this.paint('failed', l) : l))
      .join('\n');
  }

  private recap(hosts: Record<string, HostStats>): string {
    const names = Object.keys(hosts);
    if (names.length === 0) return '';
    const width = Math.max(...names.map((n) => n.length));
    const lines = names.map((n) => {
      const s = hosts[n]!;
      const kind: Status = s.failed ? 'failed' : s.unreachable ? 'unreachable' : s.changed ? 'changed' : 'ok';
      return `${this.paint(kind, n.padEnd(width))} : ok=${s.ok}  changed=${s.changed}  unreachable=${s.unreachable}  failed=${s.failed}  skipped=${s.skipped}`;
    });
    return `\n${this.paint('title', 'RECAP')}\n${lines.join('\n')}\n`;
  }
}

function indent(text: string): string {
  return text
    .replace(/\n$/, '')
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}

/** One JSON object per line on stdout: every event, results included, for scripts and `jq`. */
export class JsonReporter implements Reporter {
  constructor(private readonly write: Write) {}
  emit(e: RunEvent): void {
    if (e.type === 'result') this.write(JSON.stringify({ type: 'result', task: e.task, data: e.data }) + '\n');
    else this.write(JSON.stringify(e) + '\n');
  }
}

/**
 * With --json, an error that ends the program is an event too: `{"type":"error","message":...}` on
 * stdout, one per line of the message (a bad inventory lists every problem), so a script reading the
 * events sees why. The same text still goes to stderr for whoever watches.
 */
export function jsonErrors(stdout: Write, stderr: Write): Write {
  return (text) => {
    stderr(text);
    for (const line of text.split('\n').filter(Boolean)) stdout(JSON.stringify({ type: 'error', message: line.replace(/^pgtasks: /, '') }) + '\n');
  };
}
