import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { JsonReporter, TextReporter } from '../../src/cli/reporters.js';
import { LocalConnection } from '../../src/connection/local.js';
import { raw } from '../../src/connection/shell.js';
import { formatProgress, parseSize, progressParser, ProgressMeter, type ProgressKind, type ProgressSample } from '../../src/engine/progress.js';
import type { RunEvent } from '../../src/engine/events.js';

// Real output from the lab (pgBackRest 2.45, PostgreSQL 15): test/fixtures/progress/.
const fixture = (name: string) => readFileSync(new URL(`../fixtures/progress/${name}`, import.meta.url), 'utf8');
const MB = 1024 * 1024;

/** Feeds text in chunks of `size` characters (lines split anywhere), collecting every sample. */
function samples(kind: ProgressKind, text: string, size: number, stream: 'stdout' | 'stderr' = 'stdout'): ProgressSample[] {
  const p = progressParser(kind);
  const out: ProgressSample[] = [];
  for (let i = 0; i < text.length; i += size) {
    const s = p.feed(stream, text.slice(i, i + size));
    if (s) out.push(s);
  }
  return out;
}

describe('progress parsers (captured output)', () => {
  test('pgbackrest backup --log-level-console=detail: bytes summed per file, total from the percentage, ends at the size pgBackRest reports', () => {
    const text = fixture('pgbackrest-backup-full.txt');
    const all = samples('pgbackrest', text, 1 << 20);
    const chunked = samples('pgbackrest', text, 97);
    expect(chunked.at(-1)).toEqual(all.at(-1));
    const last = all.at(-1)!;
    // "full backup size = 67.9MB"
    expect(last.done / MB).toBeCloseTo(67.9, 0);
    expect(last.total).toBe(last.done);
    const dones = chunked.map((s) => s.done);
    expect(dones).toEqual([...dones].sort((a, b) => a - b));
    // Once past a few percent, the estimated total stays within 3 % of the real one.
    const later = chunked.filter((s) => s.total !== undefined && s.done > 0.05 * last.done);
    for (const s of later) expect(Math.abs(s.total! - last.done) / last.done).toBeLessThan(0.03);
  });

  test('pgbackrest restore: restore file lines; create/sync path lines ignored', () => {
    const last = samples('pgbackrest', fixture('pgbackrest-restore-standby.txt'), 4096).at(-1)!;
    // "restore size = 72.5MB"
    expect(last.done / MB).toBeCloseTo(72.5, 0);
    expect(last.total).toBe(last.done);
  });

  test('pgbackrest incr backup: only the files copied count (the reference lines do not)', () => {
    const all = samples('pgbackrest', fixture('pgbackrest-backup-incr.txt'), 1);
    expect(all.at(-1)!.total).toBe(all.at(-1)!.done);
    expect(all.length).toBe(7);
  });

  test('pg_basebackup --progress piped (\\n) and on a terminal (\\r), on stderr', () => {
    for (const name of ['pg_basebackup-piped.txt', 'pg_basebackup-tty.txt']) {
      const all = samples('pg_basebackup', fixture(name), 13, 'stderr');
      expect(all.length, name).toBeGreaterThanOrEqual(5);
      expect(all.at(-1)).toEqual({ done: 137250 * 1024, total: 137250 * 1024, final: true });
      expect(all[0]!.total).toBe(137240 * 1024);
    }
    expect(samples('pg_basebackup', fixture('pg_basebackup-piped.txt'), 100, 'stdout').at(-1)?.done).toBe(137250 * 1024);
  });

  test('sizes as pgBackRest prints them', () => {
    expect([parseSize('0B'), parseSize('8B'), parseSize('8KB'), parseSize('1.5MB'), parseSize('2GB'), parseSize('x')]).toEqual([
      0,
      8,
      8192,
      1.5 * MB,
      2 * 1024 * MB,
      undefined,
    ]);
  });
});

describe('progress meter', () => {
  test('a real backup fed line by line at 100 lines a second: about one event a second, the last one at 100 %', () => {
    let now = 0;
    const m = new ProgressMeter(() => now);
    const p = progressParser('pgbackrest');
    const sent: ProgressSample[] = [];
    for (const line of fixture('pgbackrest-backup-full.txt').split('\n')) {
      now += 10;
      const s = p.feed('stdout', `${line}\n`);
      if (s && m.due(m.reading(s))) sent.push(s);
    }
    expect(sent.length).toBeLessThanOrEqual(Math.ceil(now / 1000) + 1);
    expect(sent.at(-1)).toMatchObject({ final: true });
    expect(sent.at(-1)!.done).toBe(sent.at(-1)!.total);
  });

  test('rate over the recent window, time left, at most one event a second and always the last', () => {
    let now = 0;
    const m = new ProgressMeter(() => now);
    const r0 = m.reading({ done: 0, total: 100 * MB });
    expect(r0.rateBytesPerSec).toBeUndefined();
    expect(m.due(r0)).toBe(true);
    now = 500;
    const r1 = m.reading({ done: 5 * MB, total: 100 * MB });
    expect(r1.rateBytesPerSec).toBe(10 * MB);
    expect(r1.etaSeconds).toBe(10);
    expect(m.due(r1)).toBe(false);
    now = 20_000;
    const r2 = m.reading({ done: 50 * MB, total: 100 * MB });
    expect(m.due(r2)).toBe(true);
    now = 20_100;
    const r3 = m.reading({ done: 100 * MB, total: 100 * MB, final: true });
    expect(r3.etaSeconds).toBe(0);
    expect(m.due(r3)).toBe(true);
    // The end once: a second final reading with nothing more done is not sent.
    expect(m.due(m.reading({ done: 100 * MB, total: 100 * MB, final: true }))).toBe(false);
    expect(formatProgress({ done: 50 * MB, total: 100 * MB, rateBytesPerSec: 2.5 * MB, etaSeconds: 80 })).toBe(
      '50.0/100.0 MB (50%), 2.5 MB/s, 1 min 20 s left',
    );
  });
});

const progress = (host: string, done: number, total = 100 * MB): RunEvent => ({ type: 'progress', host, step: 'clone', done, total, rateBytesPerSec: MB });
const stepDone = (host: string): RunEvent => ({ type: 'step', host, step: 'clone', status: 'changed', message: 'pg_basebackup', check: false });

describe('progress in the output', () => {
  test('terminal: one line per host rewritten in place, erased before other lines, gone once the step reports', () => {
    let out = '';
    const r = new TextReporter((t) => (out += t), false, true);
    r.emit(progress('h2', 10 * MB));
    r.emit(progress('h3', 20 * MB));
    r.emit(progress('h2', 30 * MB));
    expect(out).toBe(
      '[h2] clone: 10.0/100.0 MB (10%), 1.0 MB/s\n' +
        '\x1b[1A\r\x1b[J[h2] clone: 10.0/100.0 MB (10%), 1.0 MB/s\n[h3] clone: 20.0/100.0 MB (20%), 1.0 MB/s\n' +
        '\x1b[2A\r\x1b[J[h2] clone: 30.0/100.0 MB (30%), 1.0 MB/s\n[h3] clone: 20.0/100.0 MB (20%), 1.0 MB/s\n',
    );
    out = '';
    r.emit(stepDone('h2'));
    expect(out).toBe('\x1b[2A\r\x1b[Jchanged: [h2] clone: pg_basebackup\n[h3] clone: 20.0/100.0 MB (20%), 1.0 MB/s\n');
    out = '';
    r.emit(stepDone('h3'));
    expect(out).toBe('\x1b[1A\r\x1b[Jchanged: [h3] clone: pg_basebackup\n');
  });

  test('piped: a plain line per host every 5 s and the last one; JSON: every event', () => {
    let now = 0;
    let out = '';
    const r = new TextReporter(
      (t) => (out += t),
      false,
      false,
      false,
      () => now,
    );
    r.emit(progress('h2', 10 * MB));
    now = 1000;
    r.emit(progress('h2', 20 * MB));
    r.emit(progress('h3', 20 * MB));
    now = 5000;
    r.emit(progress('h2', 50 * MB));
    now = 6000;
    r.emit(progress('h2', 100 * MB));
    expect(out.split('\n').filter(Boolean)).toEqual([
      '[h2] clone: 10.0/100.0 MB (10%), 1.0 MB/s',
      '[h3] clone: 20.0/100.0 MB (20%), 1.0 MB/s',
      '[h2] clone: 50.0/100.0 MB (50%), 1.0 MB/s',
      '[h2] clone: 100.0/100.0 MB (100%), 1.0 MB/s',
    ]);
    let json = '';
    new JsonReporter((t) => (json += t)).emit(progress('h2', 10 * MB));
    expect(JSON.parse(json)).toEqual({ type: 'progress', host: 'h2', step: 'clone', done: 10 * MB, total: 100 * MB, rateBytesPerSec: MB });
  });

  test('a local command streams its output to onOutput as it runs, and still returns all of it', async () => {
    const heard: string[] = [];
    const r = await new LocalConnection('local').run(raw('printf "1/2 kB (50%%)\\r" >&2; sleep 0.2; printf "2/2 kB (100%%)\\n" >&2; echo out'), {
      onOutput: (stream, chunk) => heard.push(`${stream}:${chunk}`),
    });
    expect(heard).toEqual(['stderr:1/2 kB (50%)\r', 'stderr:2/2 kB (100%)\n', 'stdout:out\n']);
    expect(r.stderr).toBe('1/2 kB (50%)\r2/2 kB (100%)\n');
  });
});
