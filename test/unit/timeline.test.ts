import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { followVerdict, historyFileName, parseHistory, switchPoint } from '../../src/cluster/timeline.js';

// History files as PostgreSQL writes them (a blank line before each appended entry).
const fixture = (name: string) => readFileSync(join(__dirname, '..', 'fixtures', 'timeline', name), 'utf8');
const tl2 = fixture('00000002.history');
const tl3 = fixture('00000003.history');
const sibling3 = fixture('sibling-00000003.history');
const tl6 = fixture('00000006.history');

describe('parseHistory', () => {
  test('one entry per ancestor timeline, blank lines skipped', () => {
    expect(parseHistory(tl2)).toEqual([{ tli: 1, switchLsn: '0/5000198', reason: 'no recovery target specified' }]);
    expect(parseHistory(tl3).map((e) => [e.tli, e.switchLsn])).toEqual([
      [1, '0/5000198'],
      [2, '0/7A001F28'],
    ]);
  });

  test('reasons with spaces and quotes, long lineages', () => {
    const h = parseHistory(tl6);
    expect(h.map((e) => e.tli)).toEqual([1, 2, 3, 4, 5]);
    expect(h[3]).toEqual({ tli: 4, switchLsn: '1/30000028', reason: 'at restore point "before_upgrade"' });
    expect(switchPoint(h, 5)).toBe('A/FF000000');
    expect(switchPoint(h, 6)).toBeUndefined();
  });

  test('empty (timeline 1 has no history), comments, CRLF', () => {
    expect(parseHistory('')).toEqual([]);
    expect(parseHistory('# a comment\r\n1\t0/3000000\tx\r\n')).toEqual([{ tli: 1, switchLsn: '0/3000000', reason: 'x' }]);
  });

  test('malformed lines and decreasing timelines are errors naming the line', () => {
    expect(() => parseHistory('1 0/5000198 spaces, not tabs\n')).toThrow(/line 1/);
    expect(() => parseHistory('1\tnot-an-lsn\tx\n')).toThrow(/line 1/);
    expect(() => parseHistory('2\t0/1\tx\n\n1\t0/2\tx\n')).toThrow(/line 3: timeline 1 does not follow 2/);
  });

  test('history file names are upper-case hex, 8 digits', () => {
    expect(historyFileName(2)).toBe('00000002.history');
    expect(historyFileName(26)).toBe('0000001A.history');
  });
});

describe('followVerdict', () => {
  test('same timeline: follows unless ahead of the primary', () => {
    expect(followVerdict({ tli: 2, lsn: '0/6000000' }, { tli: 2, history: tl2, lsn: '0/7000000' })).toEqual({ ok: true });
    expect(followVerdict({ tli: 2, lsn: '0/7000000' }, { tli: 2, history: tl2, lsn: '0/7000000' })).toEqual({ ok: true });
    const ahead = followVerdict({ tli: 2, lsn: '0/7000001' }, { tli: 2, history: tl2, lsn: '0/7000000' });
    expect(ahead).toEqual({ ok: false, reason: 'it is at 0/7000001 on timeline 2, ahead of the primary (at 0/7000000)' });
    // Without the primary's position there is nothing to compare with.
    expect(followVerdict({ tli: 2, lsn: 'FF/0' }, { tli: 2, history: '' })).toEqual({ ok: true });
  });

  test('a later timeline: follows up to and including the switch point, not past it', () => {
    expect(followVerdict({ tli: 1, lsn: '0/5000000' }, { tli: 2, history: tl2 })).toEqual({ ok: true });
    // A replica that replayed the old primary's shutdown checkpoint (the switchover case) follows.
    expect(followVerdict({ tli: 1, lsn: '0/5000198' }, { tli: 2, history: tl2 })).toEqual({ ok: true });
    // The failover case of issue 7: a replica that received more than the promoted one cannot.
    expect(followVerdict({ tli: 1, lsn: '0/5000199' }, { tli: 2, history: tl2 })).toEqual({
      ok: false,
      reason: "the primary's timeline 2 forked off timeline 1 at 0/5000198, before this replica's position 0/5000199",
    });
  });

  test('several timelines later: the point where the lineage left the replica timeline decides', () => {
    expect(followVerdict({ tli: 2, lsn: '0/7A001F28' }, { tli: 3, history: tl3 })).toEqual({ ok: true });
    expect(followVerdict({ tli: 2, lsn: '0/7B000000' }, { tli: 3, history: tl3 }).ok).toBe(false);
    // Still on timeline 1 past 1's end: lost, even though it is behind timeline 2's end.
    expect(followVerdict({ tli: 1, lsn: '0/6000000' }, { tli: 3, history: tl3 }).ok).toBe(false);
    expect(followVerdict({ tli: 1, lsn: '0/4000000' }, { tli: 3, history: tl3 })).toEqual({ ok: true });
    expect(followVerdict({ tli: 4, lsn: '1/30000028' }, { tli: 6, history: parseHistory(tl6) })).toEqual({ ok: true });
    expect(followVerdict({ tli: 4, lsn: '1/30000029' }, { tli: 6, history: parseHistory(tl6) }).ok).toBe(false);
  });

  test('sibling timelines: a replica on timeline 2 cannot follow a timeline 3 forked from 1', () => {
    expect(followVerdict({ tli: 2, lsn: '0/5000198' }, { tli: 3, history: sibling3 })).toEqual({
      ok: false,
      reason: "timeline 2 is not in the history of the primary's timeline 3",
    });
    expect(followVerdict({ tli: 1, lsn: '0/6000000' }, { tli: 3, history: sibling3 })).toEqual({ ok: true });
  });

  test('a replica on a later timeline than the primary cannot follow it', () => {
    expect(followVerdict({ tli: 3, lsn: '0/1000000' }, { tli: 2, history: tl2 })).toEqual({
      ok: false,
      reason: "it is on timeline 3, later than the primary's timeline 2",
    });
  });

  test('a bad LSN is an error, never a verdict', () => {
    expect(() => followVerdict({ tli: 1, lsn: '' }, { tli: 2, history: tl2 })).toThrow(/not an LSN/);
  });
});
