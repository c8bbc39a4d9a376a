import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseInfoJson, segmentTimeline, statusMessage, STANZA_STATUS } from '../../src/backup/pgbackrest-info.js';

// Captured from pgBackRest 2.45 (Debian 12) against PostgreSQL 15: a repository behind a TLS server, encrypted.
const fixture = (name: string) => readFileSync(join(import.meta.dirname, '../fixtures/pgbackrest', name), 'utf8');

describe('pgbackrest info --output=json', () => {
  test('backups, oldest first, with sizes, WAL range and LSNs; restore span; archive range', () => {
    const [s] = parseInfoJson(fixture('info-backups.json'));
    expect(s!.name).toBe('demo');
    expect(s!.status).toEqual({ code: 0, message: 'ok' });
    expect(statusMessage(s!)).toBe('ok');
    expect(s!.cipher).toBe('aes-256-cbc');
    // Beyond Number.MAX_SAFE_INTEGER: kept exact as a string.
    expect(s!.systemId).toBe('7712126043246296079');
    expect(s!.pgVersion).toBe('15');
    expect(s!.backups.map((b) => `${b.type} ${b.label}`)).toEqual([
      'full 20261125-151022F',
      'diff 20261125-151022F_20261125-151028D',
      'incr 20261125-151022F_20261125-151031I',
      'incr 20261125-151022F_20261125-151406I',
    ]);
    expect(s!.backups[1]).toEqual({
      label: '20261125-151022F_20261125-151028D',
      type: 'diff',
      start: new Date(1795619428 * 1000),
      stop: new Date(1795619430 * 1000),
      sizeBytes: 23205316,
      deltaBytes: 704778,
      repoSizeBytes: 2859360,
      repoDeltaBytes: 54112,
      walStart: '000000010000000000000009',
      walStop: '000000010000000000000009',
      lsnStart: '0/9000028',
      lsnStop: '0/9000100',
      prior: '20261125-151022F',
      checksumErrors: false,
      pgVersion: '15',
    });
    expect(s!.earliest).toEqual({ time: new Date(1795619425 * 1000), lsn: '0/6000100', label: '20261125-151022F' });
    expect(s!.latestBackup).toEqual({ time: new Date(1795619647 * 1000), lsn: '0/10000100', label: '20261125-151022F_20261125-151406I' });
    expect(s!.archive).toEqual({ id: '15-1', min: '000000010000000000000001', max: '000000010000000000000010' });
    expect(s!.backupRunning).toBe(false);
  });

  test('a backup running: the lock is held, the stanza is still ok', () => {
    const [s] = parseInfoJson(fixture('info-backup-running.json'));
    expect(s!.backupRunning).toBe(true);
    expect(statusMessage(s!)).toBe('ok (backup/expire running)');
  });

  test('a new stanza: no backups yet, an empty archive range, nothing to restore to', () => {
    const [s] = parseInfoJson(fixture('info-no-backups.json'));
    expect(s!.status.code).toBe(STANZA_STATUS.noBackups);
    expect(statusMessage(s!)).toBe('no valid backups');
    expect(s!.backups).toEqual([]);
    expect(s!.earliest).toBeUndefined();
    expect(s!.archive).toEqual({ id: '15-1', min: undefined, max: undefined });
  });

  test('a stanza never created, and one the TLS server refuses: the repository message is the reason', () => {
    const [missing] = parseInfoJson(fixture('info-missing-stanza.json'));
    expect(missing!.status).toEqual({ code: STANZA_STATUS.missingStanzaPath, message: 'missing stanza path' });
    expect(missing!.systemId).toBeUndefined();
    expect(missing!.archive).toBeUndefined();
    const [denied] = parseInfoJson(fixture('info-access-denied.json'));
    expect(denied!.status.code).toBe(STANZA_STATUS.other);
    expect(statusMessage(denied!)).toBe("[AccessError] raised from remote-0 tls protocol on '127.0.0.1': access denied");
  });

  test('several stanzas, and output that is not info JSON', () => {
    const two = `[${fixture('info-no-backups.json').trim().slice(1, -1)},${fixture('info-missing-stanza.json').trim().slice(1, -1)}]`;
    expect(parseInfoJson(two).map((s) => s.name)).toEqual(['demo', 'nosuch']);
    expect(() => parseInfoJson('ERROR: [055]: unable to load info file')).toThrow(/not JSON/);
    expect(() => parseInfoJson('[{"name":"demo"}]')).toThrow(/unexpected output at 0\.status/);
  });

  test('the timeline of a segment', () => {
    expect(segmentTimeline('00000002000000000000000A')).toBe(2);
    expect(segmentTimeline('0000001A0000000100000000')).toBe(26);
    expect(() => segmentTimeline('00000002.history')).toThrow(/WAL segment/);
  });
});
