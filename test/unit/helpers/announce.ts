import { announceNewCluster } from '../../../roles/cluster.js';
import { JsonReporter, TextReporter } from '../../../src/cli/reporters.js';
import { Run } from '../../../src/engine/run.js';

/** What announceNewCluster prints for `cc`, as text or as --json, through a run with an empty inventory. */
export function announce(cc: Parameters<typeof announceNewCluster>[1], json: boolean): string {
  let out = '';
  const write = (t: string) => void (out += t);
  const run = new Run(
    async () => ({ sources: [], hosts: new Map(), groups: new Map() }),
    { check: false, diff: false, verbose: false, forks: 1, json },
    json ? new JsonReporter(write) : new TextReporter(write, false),
  );
  announceNewCluster(run, cc);
  return out;
}
