import { raw } from '../connection/shell.js';
import type { Fact } from '../engine/fact.js';

export interface PgClusterLine {
  version: number;
  name: string;
  port: number;
  /** online, down, "online,recovery" ... as pg_lsclusters prints it. */
  status: string;
  owner: string;
  dataDir: string;
}

/** Debian's view of the clusters on a host (pg_lsclusters), empty where postgresql-common is absent. */
export const pgClustersFact: Fact<PgClusterLine[]> = {
  name: 'pg-clusters',
  command: raw('command -v pg_lsclusters >/dev/null && pg_lsclusters -h 2>/dev/null; true'),
  parse(output) {
    return output
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f.length >= 6 && /^\d+$/.test(f[0]!))
      .map(([version, name, port, status, owner, dataDir]) => ({
        version: Number(version),
        name: name!,
        port: Number(port),
        status: status!,
        owner: owner!,
        dataDir: dataDir!,
      }));
  },
};
