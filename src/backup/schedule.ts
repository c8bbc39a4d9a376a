/*
 * How old a cluster's newest backup may be before info-list and backup-list call it overdue: the longest
 * gap between two runs of its schedules (full, diff, incr together: any backup is a fresh starting point
 * for a restore), plus slack for the backup itself to run. Pure. Cron times are computed in UTC: the
 * repository host's time zone shifts every run by the same amount, so gaps are the same (a DST change
 * moves one gap by an hour, well inside the slack).
 */

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

interface CronFields {
  minutes: Set<number>;
  hours: Set<number>;
  days: Set<number>;
  months: Set<number>;
  weekdays: Set<number>;
  /** cron's rule: when both day-of-month and day-of-week are restricted, a day matching EITHER runs. */
  dayOr: boolean;
  /** Day of month or month restricted: the pattern repeats only over a year, not a week. */
  yearly: boolean;
}

function field(text: string, min: number, max: number, name: string): { values: Set<number>; star: boolean } {
  const values = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!m) throw new Error(`cron ${name} field ${JSON.stringify(text)}: not a number, range, list or step`);
    const step = m[4] === undefined ? 1 : Number(m[4]);
    const lo = m[1] === '*' ? min : Number(m[2]);
    const hi = m[1] === '*' ? max : m[3] !== undefined ? Number(m[3]) : m[4] !== undefined ? max : lo;
    if (step < 1 || lo < min || hi > max || lo > hi) throw new Error(`cron ${name} field ${JSON.stringify(text)}: out of range ${min}-${max}`);
    for (let v = lo; v <= hi; v += step) values.add(v);
  }
  return { values, star: text.startsWith('*') };
}

/** Parses a five-field cron schedule (minute hour day month weekday; 0 and 7 are Sunday). */
export function parseCron(schedule: string): CronFields {
  const parts = schedule.trim().split(/\s+/);
  if (parts.length !== 5) throw new Error(`cron schedule ${JSON.stringify(schedule)}: five fields expected`);
  const [mi, h, d, mo, w] = parts as [string, string, string, string, string];
  const weekdays = field(w, 0, 7, 'weekday');
  if (weekdays.values.has(7)) weekdays.values.add(0);
  const days = field(d, 1, 31, 'day');
  return {
    minutes: field(mi, 0, 59, 'minute').values,
    hours: field(h, 0, 23, 'hour').values,
    days: days.values,
    months: field(mo, 1, 12, 'month').values,
    weekdays: weekdays.values,
    dayOr: !days.star && !weekdays.star,
    yearly: !days.star || !mo.startsWith('*') || field(mo, 1, 12, 'month').values.size < 12,
  };
}

function dayMatches(c: CronFields, day: Date): boolean {
  if (!c.months.has(day.getUTCMonth() + 1)) return false;
  const dom = c.days.has(day.getUTCDate());
  const dow = c.weekdays.has(day.getUTCDay());
  return c.dayOr ? dom || dow : dom && dow;
}

/** Every run of the schedules between `from` (inclusive) and `from + days`, in order (epoch ms). */
export function cronRuns(schedules: string[], from: Date, days: number): number[] {
  const parsed = schedules.map(parseCron);
  const start = Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate());
  const runs = new Set<number>();
  for (let d = 0; d <= days; d++) {
    const day = new Date(start + d * DAY);
    for (const c of parsed) {
      if (!dayMatches(c, day)) continue;
      for (const h of c.hours) for (const m of c.minutes) runs.add(day.getTime() + (h * 60 + m) * MINUTE);
    }
  }
  return [...runs].filter((t) => t >= from.getTime()).sort((a, b) => a - b);
}

/**
 * The longest time between two consecutive runs of any of the schedules: over two weeks when they
 * repeat weekly, over a year when a day of month or a month is named (monthly schedules count). Undefined
 * when they never run in that span (e.g. 31 February).
 */
export function longestInterval(schedules: string[], from: Date): number | undefined {
  if (schedules.length === 0) return undefined;
  const runs = cronRuns(schedules, from, schedules.map(parseCron).some((c) => c.yearly) ? 400 : 15);
  if (runs.length < 2) return undefined;
  let longest = 0;
  for (let i = 1; i < runs.length; i++) longest = Math.max(longest, runs[i]! - runs[i - 1]!);
  return longest;
}

/** Slack on top of the schedule's longest gap: a backup takes time, and cron starts it a little late. */
export function scheduleSlack(interval: number): number {
  return Math.max(2 * 60 * MINUTE, interval / 4);
}

/** How old the newest backup may be: the schedules' longest gap plus slack; undefined when nothing is scheduled. */
export function allowedBackupAge(schedule: { full?: string; diff?: string; incr?: string }, now: Date): number | undefined {
  const interval = longestInterval(
    [schedule.full, schedule.diff, schedule.incr].filter((s): s is string => s !== undefined),
    new Date(now.getTime() - 7 * DAY),
  );
  return interval === undefined ? undefined : interval + scheduleSlack(interval);
}

/** 90 s, 5 min, 3 h 20 min, 2 d 4 h: for ages and intervals in one glance. */
export function humanDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < 120) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 48) return min % 60 ? `${h} h ${min % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}
