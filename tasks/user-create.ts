import { z } from 'zod';
import { userName } from '../src/cluster/pg-vars-schema.js';
import { task } from '../src/engine/task.js';
import { UserError } from '../src/errors.js';

/** A role name as pg_users takes it, or exit 2 with the rule. */
export function checkedName(flag: string, value: string, schema = userName): string {
  const r = schema.safeParse(value);
  if (!r.success) throw new UserError(`${flag} ${value}: ${r.error.issues[0]!.message}`);
  return value;
}

export default task({
  name: 'user-create',
  help: 'Create a user (a login role) on the cluster primary, with a generated password kept in the credentials folder',
  description: `Creates the role on the primary found from the facts, under the cluster lock; replicas follow by WAL and
every PgBouncer of the cluster gets it in its userlist in the same run, so it logs in through PgBouncer
at once. Its password is generated into <pg_credentials_dir>/<cluster>/users/NAME.password (0600), or taken
from the password_file pg_users names for it, and reaches PostgreSQL only as a scram verifier. A user that
exists already is left as it is (user-password gives it a new password).`,
  args: z.object({
    name: z.string().describe('the user (lowercase letters, digits and _)'),
    login: z.boolean().default(true).describe('it can log in (--no-login for a group role)'),
    memberOf: z.string().optional().describe('roles it joins, comma-separated'),
    cluster: z.string().optional().describe('the cluster (needed when the inventory has several)'),
  }),
  async run(run, args) {
    const name = checkedName('--name', args.name);
    const [
      { onClusterPrimary, syncUserlists },
      { parseRoles, rolesQuery, userChanges, transactionSql },
      { memberOf },
      { userPassword },
      { sqlAction },
      { change, runSteps, step },
      { query },
    ] = await Promise.all([
      import('../roles/user-tasks.js'),
      import('../roles/users.js'),
      import('../src/cluster/cluster-context.js'),
      import('../src/cluster/user-credentials.js'),
      import('../src/engine/action.js'),
      import('../src/engine/step.js'),
      import('../src/steps/postgres.js'),
    ]);
    const groups = (args.memberOf ?? '')
      .split(',')
      .map((g) => g.trim())
      .filter(Boolean);
    await onClusterPrimary(run, 'user-create', args.cluster, async (cc, ctx) => {
      const have = parseRoles(await query(ctx, cc.spec.port, rolesQuery([name, ...groups])));
      if (have.has(name)) {
        run.message(`user-create: ${name} exists already in cluster ${cc.spec.name}; left as it is (user-password gives it a new password)`);
        return;
      }
      const missing = groups.filter((g) => !have.has(g));
      if (missing.length) return run.refuse(`user-create: --member-of ${missing.join(', ')}: no such role in cluster ${cc.spec.name}; nothing was changed`);
      const inInventory = memberOf(cc, cc.plan.primary.host).vars.pg_users.find((u) => u.name === name);
      const pw = args.login
        ? await userPassword(cc.spec.credentialsDir, cc.spec.name, { name, password_file: inInventory?.password_file }, !run.options.check, run.secrets)
        : undefined;
      const user = { name, login: args.login, connection_limit: -1, member_of: groups };
      const c = userChanges(user, undefined, pw?.password, new Set(), run.secrets);
      await runSteps(ctx, [
        step(`user ${name}`, async () =>
          change(c.what.join(', '), [
            sqlAction(cc.spec.port, transactionSql(c.sql), 'postgres', transactionSql(c.sql).replace(/PASSWORD '[^']*'/g, "PASSWORD '********'")),
          ]),
        ),
      ]);
      if (!run.options.check) await syncUserlists(run, cc);
      run.emit({
        type: 'result',
        task: 'user-create',
        data: { cluster: cc.spec.name, user: name, passwordFile: pw?.file },
        text: pw
          ? `user ${name} created in cluster ${cc.spec.name}; its password is in ${pw.file} (0600)`
          : `role ${name} created in cluster ${cc.spec.name} (no login)`,
      });
    });
  },
});
