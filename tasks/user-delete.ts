import { z } from 'zod';
import { roleRef } from '../src/cluster/pg-vars-schema.js';
import { task } from '../src/engine/task.js';
import { checkedName } from './user-create.js';

export default task({
  name: 'user-delete',
  help: 'Drop a user; refused when it owns objects, unless --reassign-to names who gets them',
  description: `Drops the role on the primary and takes it out of every PgBouncer's userlist. A user that owns
objects (tables, schemas, a database...) is refused, with what it owns, unless --reassign-to names the role
that gets them (REASSIGN OWNED, then DROP OWNED for its privileges, in each database where it has some).
Privileges it holds are revoked. A user pg_users keeps (state: present) is refused too: configure-cluster
would make it again; set state: absent there instead.`,
  args: z.object({
    name: z.string().describe('the user'),
    reassignTo: z.string().optional().describe('the role that gets what it owns'),
    cluster: z.string().optional().describe('the cluster (needed when the inventory has several)'),
  }),
  async run(run, args) {
    const name = checkedName('--name', args.name);
    const target = args.reassignTo === undefined ? undefined : checkedName('--reassign-to', args.reassignTo, roleRef);
    const [
      { onClusterPrimary, syncUserlists },
      { describeOwned, dropUserActions, ownedQuery, parseOwned },
      { memberOf },
      { change, runSteps, step },
      { query },
    ] = await Promise.all([
      import('../roles/user-tasks.js'),
      import('../roles/users.js'),
      import('../src/cluster/cluster-context.js'),
      import('../src/engine/step.js'),
      import('../src/steps/postgres.js'),
    ]);
    await onClusterPrimary(run, 'user-delete', args.cluster, async (cc, ctx) => {
      const kept = memberOf(cc, cc.plan.primary.host).vars.pg_users.find((u) => u.name === name && u.state === 'present');
      if (kept)
        return run.refuse(
          `user-delete: ${name} is in pg_users (state: present): configure-cluster would create it again; set state: absent there; nothing was changed`,
        );
      const { roles, owned } = parseOwned(await query(ctx, cc.spec.port, ownedQuery([name], target ? [target] : [])));
      if (!roles.has(name)) {
        run.message(`user-delete: no user ${name} in cluster ${cc.spec.name}; nothing to do`);
        return;
      }
      const owns = describeOwned(owned.get(name));
      if (owns && !target) return run.refuse(`user-delete: ${name} owns ${owns}; pass --reassign-to ROLE to give them to another role; nothing was changed`);
      if (target && !roles.has(target)) return run.refuse(`user-delete: --reassign-to ${target}: no such role in cluster ${cc.spec.name}; nothing was changed`);
      await runSteps(ctx, [
        step(`user ${name}`, async () =>
          change(
            owns ? `drop ${name} (its objects to ${target})` : `drop ${name}`,
            dropUserActions(cc.spec.port, name, owned.get(name), owns ? target : undefined),
          ),
        ),
      ]);
      if (!run.options.check) await syncUserlists(run, cc);
    });
  },
});
