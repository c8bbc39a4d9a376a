import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { archiveHealth, backupHealth, type ArchiverStats } from '../../src/backup/health.js';
import { clusterBackups, renderBackupList } from '../../src/backup/list-render.js';
import { parseInfoJson } from '../../src/backup/pgbackrest-info.js';
import { pgVarsSchema } from '../../src/cluster/vars.js';
import { clusterStatus, primaryArchiver, type MemberObservation } from '../../src/status/model.js';
import type { LiveStatus } from '../../src/status/query.js';
import { renderStatus } from '../../src/status/render.js';
import { allowedBackupAge, cronRuns, humanDuration, longestInterval, parseCron } from '../../src/backup/schedule.js';

// Real pgBackRest 2.45 output (see pgbackrest-info.test.ts): four backups ending 2026-11-25 15:10:25Z .. 15:14:07Z.
const fixture = (name: string) => readFileSync(join(import.meta.dirname, '../fixtures/pgbackrest', name), 'utf8');
const [stanza] = parseInfoJson(fixture('info-backups.json'));
const [noBackups] = parseInfoJson(fixture('info-no-backups.json'));
const [denied] = parseInfoJson(fixture('info-access-denied.json'));
const H = 3600_000;
const newestStop = new Date(1795619647 * 1000);
const at = (ms: number) => new Date(newestStop.getTime() + ms);
const weekly = { full: '0 1 * * 0', diff: '0 1 * * 1-6' };

const archiver = (o: Partial<ArchiverStats> = {}): ArchiverStats => ({
  archiveMode: 'on',
  archivedCount: 16,
  lastArchivedWal: '000000010000000000000010',
  lastArchivedTime: '2026-11-25T15:14:10+00:00',
  failedCount: 0,
  lastFailedWal: null,
  lastFailedTime: null,
  now: '2026-11-25T15:14:40+00:00',
  ...o,
});

describe('schedules', () => {
  test('cron fields: ranges, lists, steps, Sunday as 0 or 7, day-of-month OR day-of-week', () => {
    const c = parseCron('*/15 1-3,22 * * 7');
    expect([...c.minutes]).toEqual([0, 15, 30, 45]);
    expect([...c.hours]).toEqual([1, 2, 3, 22]);
    expect(c.weekdays.has(0)).toBe(true);
    expect(parseCron('0 1 1 * 1').dayOr).toBe(true);
    expect(parseCron('0 1 * * 1').dayOr).toBe(false);
    expect(() => parseCron('0 25 * * *')).toThrow(/hour.*out of range/);
    expect(() => parseCron('0 1 * *')).toThrow(/five fields/);
  });

  test('runs in order, union of schedules, from a given moment', () => {
    const from = new Date('2026-11-22T00:00:00Z'); // a Sunday
    const runs = cronRuns([weekly.full, weekly.diff], from, 2).map((t) => new Date(t).toISOString());
    expect(runs).toEqual(['2026-11-22T01:00:00.000Z', '2026-11-23T01:00:00.000Z', '2026-11-24T01:00:00.000Z']);
  });

  test('the longest gap: daily backups allow a day; a weekly full alone a week; a monthly one a 31-day month', () => {
    const from = new Date('2026-11-20T00:00:00Z');
    expect(longestInterval([weekly.full, weekly.diff], from)).toBe(24 * H);
    expect(longestInterval([weekly.full], from)).toBe(7 * 24 * H);
    // Full on Sundays, diffs on weekdays only: Friday 01:00 to Sunday 01:00.
    expect(longestInterval(['0 1 * * 0', '0 1 * * 1-5'], from)).toBe(48 * H);
    expect(longestInterval(['0 3 1 * *'], from)).toBe(31 * 24 * H);
    expect(longestInterval(['0 1 31 2 *'], from)).toBeUndefined();
    expect(longestInterval([], from)).toBeUndefined();
  });

  test('allowed age: the gap plus slack (2 h at least, a quarter of the gap)', () => {
    expect(allowedBackupAge(weekly, at(0))).toBe(30 * H);
    expect(allowedBackupAge({ incr: '*/10 * * * *' }, at(0))).toBe(10 * 60_000 + 2 * H);
    expect(allowedBackupAge({}, at(0))).toBeUndefined();
  });

  test('durations for people', () => {
    expect([humanDuration(4000), humanDuration(300_000), humanDuration(3 * H + 20 * 60_000), humanDuration(52 * H), humanDuration(48 * H)]).toEqual([
      '4 s',
      '5 min',
      '3 h 20 min',
      '2 d 4 h',
      '2 d',
    ]);
  });
});

describe('archive health (pg_stat_archiver on the primary)', () => {
  test('ok: the last segment and its age', () => {
    const a = archiveHealth(archiver());
    expect(a.state).toBe('ok');
    expect(a.lastArchivedAgeSeconds).toBe(30);
    expect(a.text).toBe('last WAL 000000010000000000000010 archived 30 s ago');
  });

  test('a failure after the last success is failing; one followed by a success is over (but counted)', () => {
    const failing = archiveHealth(archiver({ failedCount: 3, lastFailedWal: '000000010000000000000011', lastFailedTime: '2026-11-25T15:14:35+00:00' }));
    expect(failing.state).toBe('failing');
    expect(failing.text).toBe('WAL ARCHIVING FAILS: 000000010000000000000011 failed 5 s ago (3 failures); last WAL 000000010000000000000010 archived 30 s ago');
    expect(failing.lastFailure).toEqual({ wal: '000000010000000000000011', time: '2026-11-25T15:14:35+00:00', ageSeconds: 5 });
    const over = archiveHealth(archiver({ failedCount: 1, lastFailedWal: '000000010000000000000010', lastFailedTime: '2026-11-25T15:14:00+00:00' }));
    expect(over.state).toBe('ok');
    expect(over.text).toMatch(/, 1 failure since stats reset$/);
    expect(
      archiveHealth(
        archiver({ failedCount: 2, lastArchivedWal: null, lastArchivedTime: null, lastFailedWal: 'x', lastFailedTime: '2026-11-25T15:14:00+00:00' }),
      ).state,
    ).toBe('failing');
  });

  test('off, idle and unknown', () => {
    expect(archiveHealth(archiver({ archiveMode: 'off' })).state).toBe('off');
    expect(archiveHealth(archiver({ lastArchivedWal: null, lastArchivedTime: null, archivedCount: 0 })).text).toBe('no WAL archived yet');
    expect(archiveHealth(undefined).state).toBe('unknown');
  });
});

describe('backup health: the verdict info-list and backup-list show', () => {
  const spec = { repo_host: 'h4', schedule: weekly };

  test('OK: the newest backup within the schedule and archiving working', () => {
    const h = backupHealth('demo', spec, stanza, undefined, archiver(), at(3 * H));
    expect(h.verdict).toBe('OK');
    expect(h.last).toEqual({ label: '20261125-151022F_20261125-151406I', type: 'incr', stop: newestStop.toISOString(), ageSeconds: 3 * 3600 });
    expect(h.allowedAgeSeconds).toBe(30 * 3600);
    expect(h.problems).toEqual([]);
    expect(h.text).toBe('BACKUP OK: last incr 3 h ago (allowed 30 h); last WAL 000000010000000000000010 archived 30 s ago');
  });

  test('OVERDUE past the longest gap plus slack, with what to do', () => {
    const h = backupHealth('demo', spec, stanza, undefined, archiver(), at(31 * H));
    expect(h.verdict).toBe('OVERDUE');
    expect(h.problems).toEqual([
      "newest backup 20261125-151022F_20261125-151406I is 31 h old, more than the schedule allows (30 h): check the cron file on h4, or run 'pgtasks backup --cluster demo'",
    ]);
  });

  test('archiving failing outranks an overdue backup; both are listed', () => {
    const h = backupHealth(
      'demo',
      spec,
      stanza,
      undefined,
      archiver({ failedCount: 9, lastFailedWal: '000000010000000000000011', lastFailedTime: '2026-11-25T15:14:39+00:00' }),
      at(31 * H),
    );
    expect(h.verdict).toBe('ARCHIVE FAILING');
    expect(h.problems).toHaveLength(2);
    expect(backupHealth('demo', spec, stanza, undefined, archiver({ archiveMode: 'off' }), at(H)).verdict).toBe('ARCHIVE FAILING');
  });

  test('no backup yet; the repository unreadable (access denied, host unreachable) is UNKNOWN', () => {
    expect(backupHealth('demo', spec, noBackups, undefined, archiver(), at(H)).verdict).toBe('NO BACKUP');
    const d = backupHealth('demo', spec, denied, undefined, archiver(), at(H));
    expect(d.verdict).toBe('UNKNOWN');
    expect(d.problems[0]).toBe("repository h4: [AccessError] raised from remote-0 tls protocol on '127.0.0.1': access denied");
    const u = backupHealth('demo', spec, undefined, 'h4 unreachable: connect ETIMEDOUT', archiver(), at(H));
    expect(u.verdict).toBe('UNKNOWN');
    expect(u.text).toMatch(/^BACKUP UNKNOWN: backups unknown \(allowed 30 h\); last WAL .*; repository h4: h4 unreachable: connect ETIMEDOUT$/);
  });
});

describe('backup-list', () => {
  test('rows oldest first with duration, sizes and WAL range; the restore span; the archive', () => {
    const health = backupHealth('demo', { repo_host: 'h4', schedule: weekly }, stanza, undefined, archiver(), at(H));
    const c = clusterBackups('demo', 'h4', stanza, health);
    expect(c.backups.map((b) => [b.type, b.durationSeconds])).toEqual([
      ['full', 3],
      ['diff', 2],
      ['incr', 1],
      ['incr', 1],
    ]);
    expect(c.earliest).toEqual({ time: '2026-11-25T15:10:25.000Z', lsn: '0/6000100', label: '20261125-151022F' });
    expect(c.latest).toEqual({ segment: '000000010000000000000010', archivedAt: '2026-11-25T15:14:10.000Z' });
    const text = renderBackupList([c], false);
    expect(text.split('\n').slice(0, 3)).toEqual([
      'CLUSTER demo  repository h4 (stanza demo, aes-256-cbc)  BACKUP OK',
      'LABEL                              TYPE  START                 DURATION  SIZE     COPIED    IN REPO  WAL START                 WAL STOP',
      '20261125-151022F                   full  2026-11-25 15:10:22Z  3 s       22.1 MB  22.1 MB   2.7 MB   000000010000000000000006  000000010000000000000006',
    ]);
    expect(text).toContain('restore: from 2026-11-25 15:10:25Z (LSN 0/6000100) to the end of WAL 000000010000000000000010 (archived 2026-11-25 15:14:10Z)');
    expect(text).toContain(
      'archive: last WAL 000000010000000000000010 archived 30 s ago; repository holds 000000010000000000000001 .. 000000010000000000000010',
    );
  });

  test('no backup yet, and the repository unreadable', () => {
    const none = clusterBackups('demo', 'h4', noBackups, backupHealth('demo', { repo_host: 'h4', schedule: weekly }, noBackups, undefined, archiver(), at(H)));
    expect(renderBackupList([none], false)).toContain(
      "(no backup yet)\narchive: last WAL 000000010000000000000010 archived 30 s ago\n! no backup yet: run 'pgtasks backup --cluster demo'",
    );
    const gone = clusterBackups(
      'demo',
      'h4',
      undefined,
      backupHealth('demo', { repo_host: 'h4', schedule: weekly }, undefined, 'h4 unreachable', undefined, at(H)),
    );
    expect(renderBackupList([gone], false)).toContain('(backups unknown: h4 unreachable)');
  });
});

describe('info-list: one BACKUP line per cluster with pg_backup', () => {
  const member = (host: string) => ({ host, address: `10.0.0.${host.slice(1)}`, vars: pgVarsSchema.parse({ pg_cluster: 'demo' }) });
  const live = (recovery: boolean, a: ArchiverStats | null): LiveStatus => ({
    recovery,
    version: '15.18 (Debian)',
    timeline: 1,
    lsn: '0/5000000',
    upstream: recovery ? '10.0.0.1' : null,
    receiver: recovery ? 'streaming' : null,
    replay_delay: null,
    connections: 3,
    max_connections: 100,
    size: 22_000_000,
    replicas: recovery ? [] : [{ name: 'h2', state: 'streaming', sync: 'async', replay_lsn: '0/5000000', lag_bytes: 0, replay_lag: null }],
    archiver: a,
  });
  const observed: MemberObservation[] = [
    {
      member: member('h1'),
      live: live(false, archiver({ failedCount: 4, lastFailedWal: '000000010000000000000011', lastFailedTime: '2026-11-25T15:14:30+00:00' })),
    },
    { member: member('h2'), live: live(true, null) },
  ];

  test("the primary's archiver is the one judged; the line and its advice come under the table", () => {
    expect(primaryArchiver(observed)?.failedCount).toBe(4);
    expect(primaryArchiver([observed[1]!])).toBeUndefined();
    const status = clusterStatus('demo', observed);
    status.backup = backupHealth('demo', { repo_host: 'h4', schedule: weekly }, stanza, undefined, primaryArchiver(observed) ?? undefined, at(H));
    const text = renderStatus([status], false).split('\n');
    expect(text[0]).toBe('CLUSTER demo  IN SYNC');
    expect(text.slice(4, 8)).toEqual([
      'PostgreSQL 15.18',
      'BACKUP ARCHIVE FAILING: last incr 60 min ago (allowed 30 h); WAL ARCHIVING FAILS: 000000010000000000000011 failed 10 s ago (4 failures); last WAL 000000010000000000000010 archived 30 s ago',
      "! WAL archiving fails (000000010000000000000011): WAL piles up in pg_wal on the primary until it works again; check that h4 is reachable, and run 'pgbackrest --stanza=demo check' as postgres on the primary for the reason",
      '',
    ]);
  });
});
