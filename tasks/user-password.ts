import { resolve } from 'node:path';
import { z } from 'zod';
import { task } from '../src/engine/task.js';
import { checkedName } from './user-create.js';

export default task({
  name: 'user-password',
  help: 'Give a user a new generated password: printed once, or written (0600) to --password-file',
  description: `Generates a new password, keeps it in <pg_credentials_dir>/<cluster>/users/NAME.password (so
configure-cluster keeps it), sets it on the primary as a scram verifier and puts it in every PgBouncer's
userlist in the same run: the new password works at once and the old one no longer logs in (sessions
already open go on). The password is printed once on the terminal (never with --json), or written 0600
to --password-file; it is never on a command line. A user whose pg_users entry names a password_file is
refused: change that file and run configure-cluster.`,
  args: z.object({
    name: z.string().describe('the user'),
    passwordFile: z.string().optional().describe('write the new password to this file (0600) instead of printing it'),
    cluster: z.string().optional().describe('the cluster (needed when the inventory has several)'),
  }),
  async run(run, args) {
    const name = checkedName('--name', args.name);
    const [
      { onClusterPrimary, syncUserlists },
      { parseRoles, rolesQuery, transactionSql },
      { memberOf },
      { scramVerifier },
      { newPassword, userPasswordPath, writeSecretFile },
      { sqlAction },
      { change, runSteps, step },
      { ident, lit, query },
    ] = await Promise.all([
      import('../roles/user-tasks.js'),
      import('../roles/users.js'),
      import('../src/cluster/cluster-context.js'),
      import('../src/cluster/scram.js'),
      import('../src/cluster/user-credentials.js'),
      import('../src/engine/action.js'),
      import('../src/engine/step.js'),
      import('../src/steps/postgres.js'),
    ]);
    await onClusterPrimary(run, 'user-password', args.cluster, async (cc, ctx) => {
      const inInventory = memberOf(cc, cc.plan.primary.host).vars.pg_users.find((u) => u.name === name);
      if (inInventory?.password_file !== undefined)
        return run.refuse(
          `user-password: ${name}'s password comes from ${inInventory.password_file} (pg_users): change that file and run configure-cluster; nothing was changed`,
        );
      const have = parseRoles(await query(ctx, cc.spec.port, rolesQuery([name]))).get(name);
      if (!have) return run.refuse(`user-password: no user ${name} in cluster ${cc.spec.name}; nothing was changed`);
      if (!have.login) return run.refuse(`user-password: ${name} cannot log in (a group role): it has no password to set; nothing was changed`);
      const password = run.secrets.register(newPassword());
      const kept = userPasswordPath(cc.spec.credentialsDir, cc.spec.name, name);
      const out = args.passwordFile !== undefined ? resolve(args.passwordFile) : undefined;
      // Kept before PostgreSQL has it: a run that dies in between leaves a password configure-cluster sets, never one nobody knows.
      if (!run.options.check) {
        await writeSecretFile(kept, password);
        if (out) await writeSecretFile(out, password);
      }
      const verifier = run.secrets.register(scramVerifier(password));
      const sql = transactionSql([`ALTER ROLE ${ident(name)} PASSWORD ${lit(verifier)}`]);
      await runSteps(ctx, [
        step(`user ${name}`, async () => change(`set ${name} password`, [sqlAction(cc.spec.port, sql, 'postgres', sql.replace(lit(verifier), "'********'"))])),
      ]);
      if (!run.options.check) await syncUserlists(run, cc);
      const where = out ? `written to ${out} (0600)` : run.options.json || run.options.check ? `in ${kept} (0600)` : `${password}`;
      run.emit({
        type: 'result',
        task: 'user-password',
        data: { cluster: cc.spec.name, user: name, passwordFile: out ?? kept },
        text: run.options.check
          ? `would set a new password for ${name}`
          : out
            ? `new password for ${name} ${where}; also kept in ${kept}`
            : run.options.json
              ? ''
              : `new password for ${name}: ${where}\n(kept in ${kept}, mode 0600; it is not shown again)`,
      });
    });
  },
});
