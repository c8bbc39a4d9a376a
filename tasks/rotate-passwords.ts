import { z } from 'zod';
import type { Rotation } from '../roles/rotate.js';
import type { ClusterContext } from '../src/cluster/cluster-context.js';
import type { HostContext } from '../src/engine/host-context.js';
import type { Run } from '../src/engine/run.js';
import type { Step } from '../src/engine/step.js';
import { task } from '../src/engine/task.js';
import { UserError } from '../src/errors.js';
import { checkedName } from './user-create.js';

/** A test hook: the run waits this long right after the ALTER ROLE commit (before any file is written), to be killed there. */
const HOLD_ENV = 'PGTASKS_TEST_ROTATE_HOLD_MS';

export default task({
  name: 'rotate-passwords',
  help: 'New generated passwords for admin, the replication role and/or users, with no replica or client cut off',
  description: `Generates new passwords and applies them so that replicas keep streaming and sessions already open
(directly or through PgBouncer) keep running: the new password is kept in <file>.next (0600) first, then
ONE transaction on the primary sets the new scram verifiers, then at once, on every host in parallel, the
replication password goes into each member's pgpass, the new verifiers into every PgBouncer's userlist
(reloaded, and logged in through once so PgBouncer's pooled logins to PostgreSQL use the new keys), and
<file>.next becomes <file> in the credentials folder. New logins with an old password are refused from
then on. A run killed half-way is finished (or dropped, if PostgreSQL never took the new password) by the
next configure-cluster. The run says which passwords changed and in which files; it never prints one.
--user takes users of pg_users (or made by user-create) whose password pgtasks keeps; a pg_users entry
with its own password_file is refused (change that file and run configure-cluster).`,
  args: z.object({
    cluster: z.string().optional().describe('the cluster (needed when the inventory has several)'),
    admin: z.boolean().default(false).describe('rotate the admin password (pgtasks, PgBouncer admin console)'),
    replication: z.boolean().default(false).describe('rotate the replication password (every replica pgpass)'),
    user: z.array(z.string()).default([]).describe('rotate this user password (again for more users, or a,b)'),
  }),
  async run(run, args) {
    const users = [
      ...new Set(
        args.user
          .flatMap((u) => u.split(','))
          .map((u) => u.trim())
          .filter(Boolean),
      ),
    ].map((u) => checkedName('--user', u));
    if (!args.admin && !args.replication && !users.length)
      throw new UserError('rotate-passwords: say what to rotate: --admin, --replication and/or --user NAME');
    const [{ onClusterPrimary }, { ADMIN_USER, REPLICATION_USER }] = await Promise.all([
      import('../roles/user-tasks.js'),
      import('../src/cluster/credentials.js'),
    ]);
    await onClusterPrimary(run, 'rotate-passwords', args.cluster, async (cc, primary) => {
      const roles = [...(args.admin ? [ADMIN_USER] : []), ...(args.replication ? [REPLICATION_USER] : []), ...users];
      const files = await refusedOrFiles(run, cc, roles);
      if (!files) return;
      await rotate(run, cc, primary, files);
    });
  },
});

/** The password file of each role to rotate, or undefined (refused, nothing changed) when one cannot be rotated. */
async function refusedOrFiles(run: Run, cc: ClusterContext, roles: string[]): Promise<Map<string, string> | undefined> {
  const [{ rotationOrder }, { memberOf }, { ADMIN_USER, REPLICATION_USER }, { clusterSecretFile }, { userPasswordPath }] = await Promise.all([
    import('../roles/rotate.js'),
    import('../src/cluster/cluster-context.js'),
    import('../src/cluster/credentials.js'),
    import('../src/cluster/rotation.js'),
    import('../src/cluster/user-credentials.js'),
  ]);
  const refuse = (why: string) => (run.refuse(`rotate-passwords: ${why}; nothing was changed`), undefined);
  const live = cc.facts.get(cc.plan.primary.host)!.roles;
  const pgUsers = memberOf(cc, cc.plan.primary.host).vars.pg_users;
  const out = new Map<string, string>();
  for (const role of rotationOrder(roles)) {
    if (role === ADMIN_USER || role === REPLICATION_USER) {
      out.set(role, clusterSecretFile(cc.spec.credentialsDir, cc.spec.name, role));
      continue;
    }
    if (role === 'postgres') return refuse('postgres logs in only locally (peer), it has no password to rotate');
    const inInventory = pgUsers.find((u) => u.name === role);
    if (inInventory?.password_file !== undefined)
      return refuse(`${role}'s password comes from ${inInventory.password_file} (pg_users): change that file and run configure-cluster`);
    if (!live.some((r) => r.name === role)) return refuse(`no login user ${role} in cluster ${cc.spec.name}`);
    out.set(role, userPasswordPath(cc.spec.credentialsDir, cc.spec.name, role));
  }
  return out;
}

async function rotate(run: Run, cc: ClusterContext, primary: HostContext, files: Map<string, string>): Promise<void> {
  const [
    { alterRolesStep, pgpassStep, rotatedUserlist, userlistStep },
    { readUserlist },
    { REPLICATION_USER },
    { keepNext, promoteNext },
    { scramVerifier },
    { newPassword },
    { runSteps },
  ] = await Promise.all([
    import('../roles/rotate.js'),
    import('../roles/pgbouncer.js'),
    import('../src/cluster/credentials.js'),
    import('../src/cluster/rotation.js'),
    import('../src/cluster/scram.js'),
    import('../src/cluster/user-credentials.js'),
    import('../src/engine/step.js'),
  ]);
  const check = run.options.check;
  const rotations: Rotation[] = [...files].map(([role, file]) => {
    const password = run.secrets.register(newPassword());
    return { role, file, password, verifier: run.secrets.register(scramVerifier(password)) };
  });
  // 1. Kept locally before PostgreSQL has them: from here on a killed run loses nothing.
  if (!check) for (const r of rotations) await keepNext(r.file, r.password);

  const replication = rotations.find((r) => r.role === REPLICATION_USER);
  const pgpassHosts = replication ? [cc.plan.primary.host, ...cc.plan.replicas.map((r) => r.member.host)].filter((h) => cc.facts.get(h)?.configured) : [];
  // Every running PgBouncer: its userlist lists every login role (the replication role too, which never logs in through it).
  const bouncerHosts = cc.spec.members.filter((m) => m.vars.pg_pgbouncer && m.vars.pg_state === 'present' && cc.bouncers.has(m.host)).map((m) => m.host);
  // Read before the commit (the facts of this run), so nothing but the writes follows it.
  const userlistText = bouncerHosts.length ? rotatedUserlist(await readUserlist(cc, primary, cc.spec.port), rotations) : '';
  // Connections are opened now, not in the window after the commit.
  for (const h of new Set([...pgpassHosts, ...bouncerHosts])) await run.context(h);

  // 2. One transaction on the primary.
  const sent = Date.now();
  try {
    await runSteps(primary, [alterRolesStep(cc, rotations)]);
  } catch (err) {
    if (!check) await settleAfterFailedCommit(run, cc, primary, rotations);
    throw err;
  }
  const committed = Date.now();
  const hold = Number(run.io.env[HOLD_ENV] ?? 0);
  if (hold > 0 && !check) {
    run.message(`rotate-passwords: committed; holding ${hold} ms before writing any file (${HOLD_ENV})`);
    await new Promise((r) => setTimeout(r, hold));
  }

  // 3. Everything else at once: the local files, every pgpass, every PgBouncer.
  const doneAt = new Map<string, number>();
  const [, outcome] = await Promise.all([
    check ? undefined : Promise.all(rotations.map((r) => promoteNext(r.file))),
    run.onHosts([...new Set([...pgpassHosts, ...bouncerHosts])], async (ctx) => {
      const steps: Step[][] = [];
      if (pgpassHosts.includes(ctx.host)) steps.push([pgpassStep(cc, ctx.host, replication!)]);
      if (bouncerHosts.includes(ctx.host)) steps.push([userlistStep(cc, ctx.host, userlistText, rotations)]);
      await Promise.all(
        steps.map(async (s) => {
          await runSteps(ctx, s);
          doneAt.set(`${ctx.host}:${s[0]!.name}`, Date.now());
        }),
      );
    }),
  ]);

  const latest = (name: string) => Math.max(0, ...[...doneAt].filter(([k]) => k.endsWith(`:${name}`)).map(([, t]) => t - committed));
  const windows = {
    commitMs: committed - sent,
    pgpassMs: pgpassHosts.length ? latest('rotate: pgpass') : undefined,
    userlistMs: bouncerHosts.length ? latest('rotate: PgBouncer userlist') : undefined,
  };
  const failed = [...outcome.failed, ...outcome.unreachable];
  const lines = rotations.map((r) => `  ${r.role}: new password in ${r.file} (0600)`);
  const figures = [
    `ALTER ROLE committed in ${windows.commitMs} ms`,
    windows.pgpassMs !== undefined ? `every pgpass (${pgpassHosts.join(', ')}) written within ${windows.pgpassMs} ms of the commit` : '',
    windows.userlistMs !== undefined
      ? `every PgBouncer (${bouncerHosts.join(', ')}) reloaded with the new verifiers and logged in through once within ${windows.userlistMs} ms`
      : '',
  ].filter(Boolean);
  run.emit({
    type: 'result',
    task: 'rotate-passwords',
    data: { cluster: cc.spec.name, rotated: rotations.map((r) => ({ role: r.role, passwordFile: r.file })), windows, failed },
    text: check
      ? `would rotate ${rotations.map((r) => r.role).join(', ')} in cluster ${cc.spec.name}`
      : [
          `cluster ${cc.spec.name}: passwords rotated (sessions already open keep running; new logins need the new password):`,
          ...lines,
          `  ${figures.join('; ')}`,
          ...(failed.length
            ? [
                `  not updated on ${failed.join(', ')}: PostgreSQL has the new passwords; run configure-cluster once the host is back (it writes pgpass and userlists from the credentials folder)`,
              ]
            : []),
        ].join('\n'),
  });
}

/**
 * The ALTER ROLE step failed: it may have committed all the same (a connection lost at COMMIT). What
 * the primary holds decides, as after a killed run; unreadable, the .next files stay for the next run.
 */
async function settleAfterFailedCommit(run: Run, cc: ClusterContext, primary: HostContext, rotations: Rotation[]): Promise<void> {
  const [{ dropNext, nextFile, promoteNext, resumeDecision }, { lit, psql }] = await Promise.all([
    import('../src/cluster/rotation.js'),
    import('../src/steps/postgres.js'),
  ]);
  let rows: string[][];
  try {
    rows = await psql(
      primary,
      cc.spec.port,
      `select rolname, coalesce(rolpassword, '') from pg_authid where rolname in (${rotations.map((r) => lit(r.role)).join(',')})`,
    );
  } catch {
    run.message(
      `rotate-passwords: cannot tell whether PostgreSQL took the new passwords: ${rotations.map((r) => nextFile(r.file)).join(', ')} kept; the next configure-cluster settles them`,
    );
    return;
  }
  const stored = new Map(rows.map((r) => [r[0]!, r[1]!]));
  for (const r of rotations) {
    const { action } = resumeDecision(stored.get(r.role) ?? '', r.password);
    if (action === 'promote') await promoteNext(r.file);
    else await dropNext(r.file);
  }
}
