import { z } from 'zod';
import { clusterCredentials } from '../src/cluster/credentials.js';
import { clustersOf } from '../src/cluster/vars.js';
import { fact } from '../src/engine/fact.js';
import { task } from '../src/engine/task.js';
import { pgNodeFact } from '../src/facts/postgres.js';
import { clusterStatus, type ClusterStatus, type MemberObservation } from '../src/status/model.js';
import { queryStatus } from '../src/status/query.js';
import { renderStatus } from '../src/status/render.js';

export default task({
  name: 'info-list',
  help: 'Show every cluster: primary, replicas, lag, sync state, timeline (made for `watch`)',
  description: `Asks every member in parallel, through its SSH connection (no PostgreSQL port needs to be
open to this machine), and prints one table per cluster with a verdict: IN SYNC, DELAY (largest lag)
or DEGRADED (a member unreachable or stopped, a replica not streaming, no or several primaries).
Exits non-zero when a host is unreachable or a cluster is degraded. --json gives the same data.`,
  args: z.object({
    cluster: z.string().optional().describe('only this cluster (a pg_cluster value)'),
  }),
  async run(run, args) {
    const specs = clustersOf(await run.inventory(), args.cluster);
    const clusters: ClusterStatus[] = await Promise.all(
      specs.map(async (spec) => {
        const creds = await clusterCredentials(spec.credentialsDir, spec.name, false);
        const observed = new Map<string, MemberObservation>(spec.members.map((m) => [m.host, { member: m }]));
        const outcome = await run.onHosts(
          spec.members.map((m) => m.host),
          async (ctx) => {
            const o = observed.get(ctx.host)!;
            if (!creds.created) {
              try {
                o.live = await queryStatus(ctx, spec.port, creds.admin);
                return;
              } catch (err) {
                o.error = (err as Error).message.split('\n')[0];
              }
            } else o.error = 'no credentials';
            o.facts = await fact(ctx, pgNodeFact({ cluster: spec.name, version: spec.version, port: spec.port }));
          },
        );
        for (const h of outcome.unreachable) observed.get(h)!.unreachable = true;
        return clusterStatus(spec.name, [...observed.values()]);
      }),
    );
    run.emit({ type: 'result', task: 'info-list', data: clusters, text: renderStatus(clusters, !run.options.json && process.stdout.isTTY === true) });
    for (const c of clusters) if (c.summary.state === 'DEGRADED') run.flag(`cluster ${c.cluster} is degraded`);
  },
});
