import { describe, expect, test } from 'vitest';
import { promoteNow } from '../../roles/switchover-steps.js';
import type { PgSession } from '../../src/steps/pg-client.js';

/** A session whose pg_promote fails as PostgreSQL's does on a server out of recovery, and which says whether it is in recovery. */
function session(inRecovery: boolean): PgSession & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    async query<T>(sql: string) {
      asked.push(sql);
      if (sql.includes('pg_promote')) throw new Error('recovery is not in progress');
      return [{ r: inRecovery }] as T[];
    },
    async close() {},
  };
}

describe('promoteNow', () => {
  test('a server already out of recovery (promoted by a killed run whose request was under way) is the outcome asked for', async () => {
    const s = session(false);
    await expect(promoteNow(s)).resolves.toBeUndefined();
    expect(s.asked).toEqual(['select pg_promote(false)', 'select pg_is_in_recovery() as r']);
  });

  test("a session gone during pg_promote reports pg_promote's error, not the question's after it", async () => {
    const gone: PgSession = {
      query: async (sql: string) => Promise.reject(new Error(sql.includes('pg_promote') ? 'Connection terminated unexpectedly' : 'Client was closed')),
      close: async () => {},
    };
    await expect(promoteNow(gone)).rejects.toThrow('Connection terminated unexpectedly');
  });

  test('a pg_promote that fails on a server still in recovery fails the promotion', async () => {
    await expect(promoteNow(session(true))).rejects.toThrow(/recovery is not in progress/);
  });
});
