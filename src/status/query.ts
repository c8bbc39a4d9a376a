import { ARCHIVER_JSON_SQL, type ArchiverStats } from '../backup/health.js';
import type { HostContext } from '../engine/host-context.js';
import { pgSession, withTimeout } from '../steps/pg-client.js';

/**
 * One row per host: everything info-list shows, from one query (pg over the host's SSH connection).
 * - A replica's timeline is that of the newest WAL it holds: the WAL receiver's while it runs, else
 *   the newest segment in pg_wal (the last checkpoint's timeline is stale after a timeline switch).
 * - The primary's timeline history rides along (a few lines), so a replica that cannot follow it can
 *   be told apart without a second round trip.
 * - Times use clock_timestamp(), not now() (the statement's start): a commit replayed while the
 *   query runs would otherwise give a negative delay.
 */
export const STATUS_SQL = `select json_build_object(
  'recovery', pg_is_in_recovery(),
  'version', current_setting('server_version'),
  'timeline', case when pg_is_in_recovery() then greatest((select received_tli from pg_stat_wal_receiver),
                     (select max(('x' || substr(name, 1, 8))::bit(32)::int) from pg_ls_waldir() where name ~ '^[0-9A-F]{24}$'),
                     (select timeline_id from pg_control_checkpoint()))
                   else ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int end,
  'lsn', (case when pg_is_in_recovery() then pg_last_wal_replay_lsn() else pg_current_wal_lsn() end)::text,
  'received_lsn', pg_last_wal_receive_lsn()::text,
  'upstream', (select sender_host from pg_stat_wal_receiver),
  'receiver', (select status from pg_stat_wal_receiver),
  'replay_paused', case when pg_is_in_recovery() then pg_is_wal_replay_paused() else false end,
  'replay_delay', greatest(0, extract(epoch from clock_timestamp() - pg_last_xact_replay_timestamp())),
  'pending_restart', (select coalesce(json_agg(name order by name), '[]'::json) from pg_settings where pending_restart),
  'sync_names', current_setting('synchronous_standby_names'),
  'history', case when pg_is_in_recovery() then null
                  else pg_read_file('pg_wal/' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) || '.history', 0, 1048576, true) end,
  'connections', (select count(*) from pg_stat_activity where backend_type = 'client backend'),
  'max_connections', current_setting('max_connections')::int,
  'size', (select sum(pg_database_size(oid)) from pg_database),
  'archiver', case when pg_is_in_recovery() then null else ${ARCHIVER_JSON_SQL} end,
  'replicas', case when pg_is_in_recovery() then '[]'::json else (select coalesce(json_agg(json_build_object(
      'name', application_name, 'state', state, 'sync', sync_state, 'replay_lsn', replay_lsn::text,
      'lag_bytes', greatest(0, pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)), 'replay_lag', extract(epoch from replay_lag))), '[]'::json)
    from pg_stat_replication) end
) as status`;

export interface LiveReplica {
  name: string;
  state: string;
  sync: string;
  replay_lsn: string | null;
  lag_bytes: number | null;
  replay_lag: number | null;
}

export interface LiveStatus {
  recovery: boolean;
  version: string;
  timeline: number | null;
  /** Current WAL position on a primary, last replayed on a replica. */
  lsn: string | null;
  /** On a replica: the last WAL received and flushed (kept after the WAL receiver stops). */
  received_lsn?: string | null;
  upstream: string | null;
  receiver: string | null;
  replay_paused?: boolean;
  replay_delay: number | null;
  pending_restart?: string[];
  sync_names?: string;
  /** On a primary: its timeline history file (null on timeline 1). */
  history?: string | null;
  connections: number;
  max_connections: number;
  size: number;
  /** On a primary: pg_stat_archiver and archive_mode (backup health in info-list). */
  archiver?: ArchiverStats | null;
  replicas: LiveReplica[];
}

/** Queries PostgreSQL on the host through an SSH port forward to its 127.0.0.1:port. */
export async function queryStatus(ctx: HostContext, port: number, password: string, timeoutMs = 3000): Promise<LiveStatus> {
  const session = await withTimeout(pgSession(ctx, { port, user: 'admin', password, database: 'postgres', timeoutMs }), timeoutMs, 'connecting to PostgreSQL');
  try {
    const rows = await withTimeout(session.query<{ status: LiveStatus }>(STATUS_SQL), timeoutMs, 'the status query');
    return rows[0]!.status;
  } finally {
    await session.close();
  }
}
