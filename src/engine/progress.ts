/*
 * Progress of long commands (a backup, a restore, a clone), read from what they print while they run.
 * Pure: a parser turns output chunks into samples (bytes done, and of how many), a meter turns samples
 * into a rate and the time left and decides when an event is worth sending; execute.ts wires them to a
 * command's output (RunOptions.onOutput) and to the reporter.
 */

/** Which command's output a run action's progress is read from. */
export type ProgressKind = 'pg_basebackup' | 'pgbackrest';

export interface ProgressSample {
  done: number;
  /** Unknown until the command says (pgBackRest: estimated from its percentage). */
  total?: number;
  /** The command says it is all done (100 %): the reading is sent even if one was sent a moment ago. */
  final?: boolean;
}

export interface ProgressParser {
  /** A chunk as it arrives (any size, lines split anywhere); the latest sample it completes, if any. */
  feed(stream: 'stdout' | 'stderr', chunk: string): ProgressSample | undefined;
}

const UNITS: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4, PB: 1024 ** 5 };

/** pgBackRest's sizes (strSizeFormat): `0B`, `8KB`, `1.2MB`, `3GB`. */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([KMGTP]?B)$/.exec(text);
  return m ? Math.round(Number(m[1]) * UNITS[m[2]!]!) : undefined;
}

/** Complete lines from chunks: pg_basebackup ends its progress lines with \r on a terminal, \n otherwise. */
function lineSplitter(): (chunk: string) => string[] {
  let rest = '';
  return (chunk) => {
    const parts = (rest + chunk).split(/\r\n|\r|\n/);
    rest = parts.pop() ?? '';
    return parts;
  };
}

/**
 * pg_basebackup --progress, on stderr: `12345/67890 kB (18%), 0/1 tablespace` (with --verbose a file
 * name follows). The total is the server's estimate, raised by pg_basebackup when passed.
 */
function basebackupParser(): ProgressParser {
  const lines = { stdout: lineSplitter(), stderr: lineSplitter() };
  return {
    feed(stream, chunk) {
      let last: ProgressSample | undefined;
      for (const l of lines[stream](chunk)) {
        const m = /(\d+)\/(\d+) kB \((\d+)%\)/.exec(l);
        if (m) last = { done: Number(m[1]) * 1024, total: Math.max(Number(m[1]), Number(m[2])) * 1024, final: m[3] === '100' };
      }
      return last;
    },
  };
}

/**
 * pgBackRest with --log-level-console=detail prints a line per file copied or checked, with the file's
 * size and the share of the whole done so far: `P01 DETAIL: backup file /var/lib/... (8KB, 0.52%)
 * checksum ...`, `restore file ...`, `match file from prior backup ...` (incr/diff), `(bundle 1/0,
 * 8KB, 0.52%)`. Bytes done are the sum of the sizes; the total follows from the percentage.
 */
function pgbackrestParser(): ProgressParser {
  const lines = { stdout: lineSplitter(), stderr: lineSplitter() };
  let done = 0;
  let total: number | undefined;
  return {
    feed(stream, chunk) {
      let last: ProgressSample | undefined;
      for (const l of lines[stream](chunk)) {
        if (!/DETAIL: .*file/.test(l)) continue;
        const m = /\((?:[^()]*?, )?(\d+(?:\.\d+)?[KMGTP]?B), (\d+(?:\.\d+)?)%\)/.exec(l);
        const size = m ? parseSize(m[1]!) : undefined;
        if (!m || size === undefined) continue;
        done += size;
        const pct = Number(m[2]);
        // Sizes are rounded (1.2MB): the estimate settles as the share grows; below 1 % it is noise.
        if (pct >= 1) total = Math.max(done, Math.round((done * 100) / pct));
        if (pct >= 100) total = done;
        last = { done, total, final: pct >= 100 };
      }
      return last;
    },
  };
}

export function progressParser(kind: ProgressKind): ProgressParser {
  return kind === 'pg_basebackup' ? basebackupParser() : pgbackrestParser();
}

export interface ProgressReading {
  done: number;
  total?: number;
  final?: boolean;
  rateBytesPerSec?: number;
  etaSeconds?: number;
}

/**
 * Rate over the last `windowMs` of samples (a slow start or a pause weighs only as long as it lasts),
 * time left from it; `due` says whether a reading is worth an event: at most one per `everyMs`, and the
 * last one (all done) always.
 */
export class ProgressMeter {
  private samples: { at: number; done: number }[] = [];
  private lastEmit = -Infinity;
  private lastDone = -1;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly windowMs = 10_000,
    private readonly everyMs = 1000,
  ) {}

  reading(s: ProgressSample): ProgressReading {
    const at = this.now();
    this.samples.push({ at, done: s.done });
    // The oldest sample kept is the last one at or before the window's start: a rate always spans the window.
    while (this.samples.length > 2 && at - this.samples[1]!.at >= this.windowMs) this.samples.shift();
    const first = this.samples[0]!;
    const r: ProgressReading = { done: s.done, total: s.total, final: s.final };
    if (at - first.at >= 500 && s.done >= first.done) {
      r.rateBytesPerSec = Math.round(((s.done - first.done) * 1000) / (at - first.at));
      if (s.total !== undefined && r.rateBytesPerSec > 0) r.etaSeconds = Math.max(0, Math.round((s.total - s.done) / r.rateBytesPerSec));
    }
    return r;
  }

  due(r: ProgressReading): boolean {
    const at = this.now();
    // The end is always sent, once (pgBackRest's empty files after it change nothing).
    const end = r.final === true && r.done !== this.lastDone;
    if (!end && at - this.lastEmit < this.everyMs) return false;
    this.lastEmit = at;
    this.lastDone = r.done;
    return true;
  }
}

const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

/** `512.0/1024.0 MB (50%), 40.2 MB/s, 13 s left`, as the text output shows a progress event. */
export function formatProgress(r: ProgressReading): string {
  const of = r.total !== undefined ? `${mib(r.done)}/${mib(r.total)} MB (${r.total > 0 ? Math.floor((r.done * 100) / r.total) : 100}%)` : `${mib(r.done)} MB`;
  const rate = r.rateBytesPerSec !== undefined ? `, ${mib(r.rateBytesPerSec)} MB/s` : '';
  const eta = r.etaSeconds !== undefined ? `, ${formatSeconds(r.etaSeconds)} left` : '';
  return `${of}${rate}${eta}`;
}

function formatSeconds(s: number): string {
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
