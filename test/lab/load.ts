import pg from 'pg';

export interface LoadResult {
  committed: number[];
  /** When each commit was acknowledged (ms since the epoch), in commit order. */
  commitTimes: number[];
  failures: string[];
  longestGapMs: number;
  attempts: number;
}

/**
 * A bounded client load through PgBouncer (tests and bench): one loop opening a fresh connection per insert, one
 * persistent connection inserting back to back. Every committed id is recorded, every error kept.
 */
/** Ids stay unique across loads of one test file, so every committed row can be found again. */
let next = 0;

/**
 * TLS as the lab's PgBouncer wants it from another machine (pg_tls, on by default: plain text from its
 * own host only). node-postgres does no TLS unless told; the certificate is not verified here (the load
 * measures availability; the TLS lab test verifies names against the CA). `tls: false` for a cluster with pg_tls: false.
 */
export const LAB_TLS = { rejectUnauthorized: false } as const;

export function startLoad(host: string, port: number, password: string, maxMs = 120_000, tls = true) {
  const committed: number[] = [];
  const failures: string[] = [];
  const commitTimes: number[] = [];
  let attempts = 0;
  let running = true;
  const started = Date.now();
  const config = { host, port, user: 'admin', password, database: 'postgres', connectionTimeoutMillis: 10_000, ...(tls ? { ssl: LAB_TLS } : {}) };
  const insert = async (client: pg.Client) => {
    const id = ++next;
    attempts++;
    await client.query('insert into load (id) values ($1)', [id]);
    committed.push(id);
    commitTimes.push(Date.now());
  };
  const fresh = (async () => {
    while (running && Date.now() - started < maxMs) {
      const client = new pg.Client(config);
      client.on('error', () => {});
      try {
        await client.connect();
        await insert(client);
      } catch (err) {
        failures.push(`fresh: ${(err as Error).message}`);
      } finally {
        await client.end().catch(() => {});
      }
      await new Promise((r) => setTimeout(r, 10)); // pacing: a steady load, not a flood
    }
  })();
  const persistent = (async () => {
    const client = new pg.Client(config);
    client.on('error', (err) => failures.push(`persistent connection: ${err.message}`));
    await client.connect();
    while (running && Date.now() - started < maxMs) {
      try {
        await insert(client);
      } catch (err) {
        failures.push(`persistent: ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 5)); // pacing
    }
    await client.end().catch(() => {});
  })();
  return {
    async stop(): Promise<LoadResult> {
      running = false;
      await Promise.all([fresh, persistent]);
      const sorted = [...commitTimes].sort((a, b) => a - b);
      let longestGapMs = 0;
      for (let i = 1; i < sorted.length; i++) longestGapMs = Math.max(longestGapMs, sorted[i]! - sorted[i - 1]!);
      return { committed, commitTimes: sorted, failures, longestGapMs, attempts };
    },
  };
}
