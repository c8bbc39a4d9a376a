import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseInfoJson } from '../../src/backup/pgbackrest-info.js';
import { restoreArgs } from '../../src/backup/pgbackrest-restore.js';
import { checkTarget, parseTargetTime, targetFromFlags, type ArchiveEnd } from '../../src/backup/restore-target.js';

// Real pgBackRest 2.45 output: backups ending 15:10:25Z (LSN 0/6000100), 15:10:30Z (0/9000100), 15:10:32Z (0/C000100), 15:14:07Z (0/10000100) on 2026-11-25.
const fixture = (name: string) => readFileSync(join(import.meta.dirname, '../fixtures/pgbackrest', name), 'utf8');
const [stanza] = parseInfoJson(fixture('info-backups.json'));
const [noBackups] = parseInfoJson(fixture('info-no-backups.json'));
const [denied] = parseInfoJson(fixture('info-access-denied.json'));
const end: ArchiveEnd = { time: new Date('2026-11-25T15:20:00Z'), lsn: '0/11000000', segment: '000000010000000000000010' };

describe('restore target from the flags', () => {
  test('times as PostgreSQL and people write them, always with a zone', () => {
    expect(parseTargetTime('2026-11-25 15:12:00+00').toISOString()).toBe('2026-11-25T15:12:00.000Z');
    expect(parseTargetTime('2026-11-25 15:12:00.123456+00').toISOString()).toBe('2026-11-25T15:12:00.123Z');
    expect(parseTargetTime('2026-11-25T17:12:00+02:00').toISOString()).toBe('2026-11-25T15:12:00.000Z');
    expect(parseTargetTime('2026-11-25T10:12-0500').toISOString()).toBe('2026-11-25T15:12:00.000Z');
    expect(parseTargetTime('2026-11-25T15:12:00Z').toISOString()).toBe('2026-11-25T15:12:00.000Z');
    expect(() => parseTargetTime('2026-11-25 15:12:00')).toThrow(/give the time zone/);
    expect(() => parseTargetTime('yesterday')).toThrow(/not a time/);
    expect(() => parseTargetTime('2026-02-30 10:00:00Z')).toThrow(/no such date/);
  });

  test('exactly one of --to, --lsn, --latest', () => {
    expect(targetFromFlags({ latest: true })).toEqual({ kind: 'latest' });
    expect(targetFromFlags({ lsn: '0/a000028' })).toEqual({ kind: 'lsn', lsn: '0/A000028' });
    expect(targetFromFlags({ to: '2026-11-25 15:12:00+00' })).toEqual({ kind: 'time', time: new Date('2026-11-25T15:12:00Z') });
    expect(() => targetFromFlags({})).toThrow(/give a target/);
    expect(() => targetFromFlags({ latest: true, lsn: '0/1' })).toThrow(/only one of .*--lsn, --latest/);
    expect(() => targetFromFlags({ lsn: '16/B374D848; rm' })).toThrow(/not an LSN/);
  });
});

describe('restore target against the repository', () => {
  test('a time between two backups restores the newest backup that ended before it', () => {
    const c = checkTarget(stanza!, { kind: 'time', time: new Date('2026-11-25T15:12:00Z') }, end);
    expect(c).toMatchObject({ ok: true, backup: { label: '20261125-151022F_20261125-151031I' } });
    expect(checkTarget(stanza!, { kind: 'time', time: new Date('2026-11-25T15:10:25Z') }, end)).toMatchObject({
      ok: true,
      backup: { label: '20261125-151022F' },
    });
  });

  test('before the earliest backup: refused, saying where the span starts', () => {
    const c = checkTarget(stanza!, { kind: 'time', time: new Date('2026-11-25T15:10:24Z') }, end);
    expect(c).toEqual({
      ok: false,
      refusal:
        'time 2026-11-25 15:10:24.000+00 is before the earliest backup: the earliest point it can restore to is 2026-11-25T15:10:25Z (LSN 0/6000100), the end of backup 20261125-151022F',
    });
  });

  test('after the latest archived WAL: refused; without a known end (the source is down) PostgreSQL has the last word', () => {
    const late = { kind: 'time', time: new Date('2026-11-25T15:20:01Z') } as const;
    expect(checkTarget(stanza!, late, end)).toEqual({
      ok: false,
      refusal:
        'time 2026-11-25 15:20:01.000+00 is after the latest archived WAL (segment 000000010000000000000010, archived after a WAL switch at 2026-11-25T15:20:00Z)',
    });
    expect(checkTarget(stanza!, late)).toMatchObject({ ok: true, backup: { label: '20261125-151022F_20261125-151406I' } });
  });

  test('LSN targets: the span by LSN, and the backup set named when it is not the newest', () => {
    expect(checkTarget(stanza!, { kind: 'lsn', lsn: '0/5FFFFFF' }, end)).toMatchObject({
      ok: false,
      refusal: expect.stringMatching(/^LSN 0\/5FFFFFF is before the earliest backup/),
    });
    expect(checkTarget(stanza!, { kind: 'lsn', lsn: '0/11000001' }, end)).toMatchObject({
      ok: false,
      refusal: expect.stringMatching(/after the latest archived WAL \(up to LSN 0\/11000000/),
    });
    const mid = checkTarget(stanza!, { kind: 'lsn', lsn: '0/A000000' }, end);
    expect(mid).toMatchObject({
      ok: true,
      backup: { label: '20261125-151022F_20261125-151028D' },
      note: expect.stringContaining('--set=20261125-151022F_20261125-151028D'),
    });
    expect(checkTarget(stanza!, { kind: 'lsn', lsn: '0/10000100' }, end)).toEqual({ ok: true, backup: stanza!.backups[3], note: undefined });
  });

  test('latest: the newest backup; no backup or an unreadable stanza: refused', () => {
    expect(checkTarget(stanza!, { kind: 'latest' }, end)).toMatchObject({ ok: true, backup: { label: '20261125-151022F_20261125-151406I' } });
    expect(checkTarget(noBackups!, { kind: 'latest' })).toEqual({ ok: false, refusal: 'stanza demo: no valid backups' });
    expect(checkTarget(denied!, { kind: 'latest' })).toMatchObject({ ok: false, refusal: expect.stringContaining('access denied') });
  });

  test('restore arguments name the set when asked', () => {
    const args = restoreArgs({ stanza: 'demo', target: { kind: 'lsn', lsn: '0/A000000' }, restorePath: '/d.side', finalPath: '/d', set: 'L' });
    expect(args).toEqual([
      '--stanza=demo',
      '--pg1-path=/d.side',
      '--type=lsn',
      '--target=0/A000000',
      '--target-action=promote',
      '--set=L',
      '--recovery-option=restore_command=pgbackrest --stanza=demo --pg1-path=/d archive-get %f "%p"',
      'restore',
    ]);
  });
});
