import { sql } from '../../lab/cluster-inventory.js';
import type { Lab } from '../../lab/lab.js';
import { eventually } from './pgtasks.js';

/** The lab host whose PostgreSQL takes writes (asked of each in turn), if any. */
export async function primaryOf(lab: Lab, hosts = lab.hosts.map((h) => h.name)): Promise<string | undefined> {
  for (const h of hosts) if ((await sql(lab, h, 'select pg_is_in_recovery()').catch(() => '')) === 'f') return h;
  return undefined;
}

/** Waits (bounded) until `n` replicas stream from `primary`; returns their names, sorted, comma-separated. */
export function streamingFrom(lab: Lab, primary: string, n = 2): Promise<string> {
  return eventually(
    () =>
      sql(lab, primary, "select coalesce(string_agg(application_name, ',' order by application_name), '') from pg_stat_replication where state = 'streaming'"),
    (v) => v.split(',').filter(Boolean).length === n,
  );
}
