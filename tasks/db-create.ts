import { z } from 'zod';
import { databaseName, roleRef } from '../src/cluster/pg-vars-schema.js';
import { task } from '../src/engine/task.js';
import { checkedName } from './user-create.js';

export default task({
  name: 'db-create',
  help: 'Create a database owned by a role, on the cluster primary',
  description: `Creates the database (UTF8, locale C.UTF-8, from template0) on the primary found from the facts,
under the cluster lock. Its owner must exist (user-create, or pg_users). A database that exists already
with that owner is left as it is; one with another owner is refused: nothing is ever dropped or replaced.`,
  args: z.object({
    name: z.string().describe('the database'),
    owner: z.string().describe('its owner, an existing role'),
    cluster: z.string().optional().describe('the cluster (needed when the inventory has several)'),
  }),
  async run(run, args) {
    const name = checkedName('--name', args.name, databaseName);
    const owner = checkedName('--owner', args.owner, roleRef);
    const [{ onClusterPrimary }, { sqlAction }, { change, runSteps, step }, { ident, lit, query }] = await Promise.all([
      import('../roles/user-tasks.js'),
      import('../src/engine/action.js'),
      import('../src/engine/step.js'),
      import('../src/steps/postgres.js'),
    ]);
    await onClusterPrimary(run, 'db-create', args.cluster, async (cc, ctx) => {
      const rows = await query(
        ctx,
        cc.spec.port,
        `select 'db', pg_get_userbyid(datdba) from pg_database where datname = ${lit(name)} union all select 'role', rolname from pg_roles where rolname = ${lit(owner)}`,
      );
      const db = rows.find((r) => r[0] === 'db');
      if (db && db[1] === owner) return run.message(`db-create: database ${name} exists already, owned by ${owner}; left as it is`);
      if (db) return run.refuse(`db-create: database ${name} exists already, owned by ${db[1]}; nothing was changed`);
      if (!rows.some((r) => r[0] === 'role')) return run.refuse(`db-create: --owner ${owner}: no such role in cluster ${cc.spec.name}; nothing was changed`);
      const sql = `SET synchronous_commit = local;\nCREATE DATABASE ${ident(name)} OWNER ${ident(owner)} ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8' TEMPLATE template0;`;
      await runSteps(ctx, [step(`database ${name}`, async () => change(`create ${name} owned by ${owner}`, [sqlAction(cc.spec.port, sql)]))]);
    });
  },
});
