import { z } from 'zod';
import { UserError } from '../src/errors.js';
import { task } from '../src/engine/task.js';

export default task({
  name: 'failover',
  help: 'Promote a replica when the primary is down or unreachable',
  description: `Fences the old primary when it can be reached (stops it and marks it standby, so two
primaries never accept writes), promotes the most advanced replica (or --target, if it is at least as
advanced), and points the other replicas, PgBouncer and the service name at it. Asks for
confirmation unless --yes. Bring the old primary back with 'pgtasks rejoin --host HOST'. A failover
killed after its promotion is finished by running it again (the others converged, the dead host left out).`,
  args: z.object({
    cluster: z.string().optional().describe('the cluster (needed when the inventory has several)'),
    target: z.string().optional().describe('the replica to promote (default: the most advanced)'),
    yes: z.boolean().default(false).describe('do not ask for confirmation'),
    force: z.boolean().default(false).describe('fail over even though the primary is running'),
  }),
  async run(run, args) {
    const [{ failover }, { withClusterLock }, { clustersOf }] = await Promise.all([
      import('../roles/failover.js'),
      import('../src/cluster/lock.js'),
      import('../src/cluster/vars.js'),
    ]);
    const specs = clustersOf(await run.inventory(), args.cluster);
    if (specs.length !== 1) throw new UserError(`failover: say which cluster with --cluster (${specs.map((s) => s.name).join(', ')})`);
    await withClusterLock(run, specs[0]!, 'failover', () =>
      failover(run, specs[0]!, {
        target: args.target,
        force: args.force,
        confirm: async (question) => {
          if (args.yes) return true;
          if (!run.io.ask) throw new UserError('failover: no terminal to confirm on; pass --yes');
          const answer = await run.io.ask(`${question} [y/N] `);
          return /^y(es)?$/i.test(answer.trim());
        },
      }),
    );
  },
});
