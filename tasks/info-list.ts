import { z } from 'zod';
import { task } from '../src/engine/task.js';
import type { ClusterStatus, MemberObservation } from '../src/status/model.js';

export default task({
  name: 'info-list',
  help: 'Show every cluster: primary, replicas, lag, sync state, timeline (made for `watch`)',
  description: `Asks every member in parallel, through its SSH connection (no PostgreSQL port needs to be
open to this machine): one query to PostgreSQL and one look at PgBouncer's admin console per host.
Prints one table per cluster with a verdict: IN SYNC, DELAY (largest lag), DEGRADED (a member
unreachable or stopped, a replica not streaming or unable to follow, replay paused, no or several
primaries), WRITES BLOCKED (no synchronous standby left) or SWITCHOVER (one in progress, or one that
died half-way), then one line per problem with the command that fixes it. A cluster with pg_backup gets a
BACKUP line: the newest backup's age against its schedule and WAL archiving on the primary (asked of the
repository host with pgbackrest info, at the same time as the members), with a verdict: OK, OVERDUE,
NO BACKUP, ARCHIVE FAILING or UNKNOWN (the repository could not be read).
Exits non-zero when a host is unreachable, a cluster is not IN SYNC or DELAY, or its BACKUP line is not OK. --json gives the same data.`,
  args: z.object({
    cluster: z.string().optional().describe('only this cluster (a pg_cluster value)'),
  }),
  async run(run, args) {
    const [
      { backupHealth },
      { readStanza },
      { ADMIN_USER, clusterCredentials },
      { clustersOf },
      { fact },
      { readBouncer },
      { clusterStatus, primaryArchiver },
      { statusNodeFact },
      { queryStatus },
      { renderStatus },
    ] = await Promise.all([
      import('../src/backup/health.js'),
      import('../src/backup/read.js'),
      import('../src/cluster/credentials.js'),
      import('../src/cluster/vars.js'),
      import('../src/engine/fact.js'),
      import('../src/facts/pgbouncer.js'),
      import('../src/status/model.js'),
      import('../src/status/node-fact.js'),
      import('../src/status/query.js'),
      import('../src/status/render.js'),
    ]);
    const specs = clustersOf(await run.inventory(), args.cluster);
    const clusters: ClusterStatus[] = await Promise.all(
      specs.map(async (spec) => {
        const creds = await clusterCredentials(spec.credentialsDir, spec.name, false, run.secrets);
        // The repository host at the same time as the members: pgbackrest info, one round trip.
        const stanza = spec.backup ? readStanza(run, spec) : undefined;
        const observed = new Map<string, MemberObservation>(spec.members.map((m) => [m.host, { member: m }]));
        const outcome = await run.onHosts(
          spec.members.map((m) => m.host),
          async (ctx) => {
            const o = observed.get(ctx.host)!;
            if (creds.created) o.error = 'no credentials';
            // PostgreSQL and PgBouncer at the same time: one round trip's worth of waiting per host.
            const bouncer = async () => {
              // pg_pgbouncer: false leaves PgBouncer to the team; on a removed member one must not be left running.
              if (creds.created || (!o.member.vars.pg_pgbouncer && o.member.vars.pg_state === 'present')) return;
              try {
                o.bouncer = (await readBouncer(ctx, o.member.vars.pg_pgbouncer_port, ADMIN_USER, creds.admin)) ?? null;
              } catch (err) {
                o.bouncerError = (err as Error).message.split('\n')[0];
              }
            };
            const postgres = async () => {
              if (!creds.created) {
                try {
                  o.live = await queryStatus(ctx, spec.port, creds.admin);
                  return;
                } catch (err) {
                  o.error = (err as Error).message.split('\n')[0];
                }
              }
              o.facts = await fact(ctx, statusNodeFact({ cluster: spec.name, version: spec.version, port: spec.port }));
            };
            await Promise.all([postgres(), bouncer()]);
          },
        );
        for (const h of outcome.unreachable) observed.get(h)!.unreachable = true;
        const status = clusterStatus(spec.name, [...observed.values()]);
        if (spec.backup && stanza) {
          const read = await stanza;
          status.backup = backupHealth(spec.name, spec.backup, read.stanza, read.error, primaryArchiver([...observed.values()]) ?? undefined, new Date());
        }
        return status;
      }),
    );
    run.emit({ type: 'result', task: 'info-list', data: clusters, text: renderStatus(clusters, !run.options.json && run.options.color === true) });
    for (const c of clusters) {
      if (c.summary.state !== 'IN SYNC' && c.summary.state !== 'DELAY')
        run.flag(`cluster ${c.cluster} is ${c.summary.state === 'DEGRADED' ? 'degraded' : c.summary.state.toLowerCase()}`);
      if (c.backup && c.backup.verdict !== 'OK') run.flag(`cluster ${c.cluster}: backup ${c.backup.verdict.toLowerCase()}`);
    }
  },
});
