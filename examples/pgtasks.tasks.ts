/**
 * An example team task file. Put yours as ./pgtasks.tasks.ts (or pass --tasks FILE): its tasks show up
 * in `pgtasks --list` beside the built-ins and use the same inventory, flags and reporting.
 *
 *   pgtasks --tasks examples/pgtasks.tasks.ts uptime
 *   pgtasks --tasks examples/pgtasks.tasks.ts --check motd --text "maintenance at 18:00"
 */
import { readFileSync } from 'node:fs';
import { change, clustersOf, filesStep, ident, lit, ok, runSteps, scramVerifier, sh, sqlAction, step, task, withPrimary, z } from 'pgtasks';

export const uptime = task({
  name: 'uptime',
  help: "Show every host's uptime and load",
  args: z.object({
    hosts: z.string().default('all').describe('Ansible host pattern'),
  }),
  async run(run, args) {
    await run.onHosts(await run.hosts(args.hosts), async (ctx) => {
      const { stdout } = await ctx.run(sh`cat /proc/uptime /proc/loadavg`);
      const [up, load] = stdout.trim().split('\n');
      ctx.message(`up ${Math.round(Number(up!.split(' ')[0]) / 60)} min, load ${load!.split(' ').slice(0, 3).join(' ')}`);
    });
  },
});

export const motd = task({
  name: 'motd',
  help: 'Write a message of the day on every host (idempotent, supports --check and --diff)',
  args: z.object({
    text: z.string().describe('the message'),
    path: z.string().default('/etc/motd').describe('where to write it'),
  }),
  async run(run, args) {
    await run.onHosts(await run.hosts(), async (ctx) => {
      await runSteps(ctx, [filesStep('motd', () => [{ path: args.path, content: `${args.text}\n`, mode: '0644' }])]);
    });
  },
});

/**
 * A database and its owner on the primary of every cluster of the inventory (or --cluster), created
 * when missing and left alone when present: a re-run changes nothing, --check only says what would.
 * The password comes from a file (never from the command line, where `ps` would show it) and reaches
 * PostgreSQL only as a scram verifier computed here.
 *   pgtasks --tasks examples/pgtasks.tasks.ts app-db --name orders --owner orders_app --password-file ./orders.pw
 */
export const appDb = task({
  name: 'app-db',
  help: 'Create a database and its owner (a login role) on each cluster primary',
  args: z.object({
    name: z
      .string()
      .regex(/^[a-z_][a-z0-9_]*$/, 'lowercase letters, digits and _')
      .describe('the database'),
    owner: z
      .string()
      .regex(/^[a-z_][a-z0-9_]*$/, 'lowercase letters, digits and _')
      .describe('its owner, a login role'),
    passwordFile: z.string().describe("a file holding the owner's password"),
    cluster: z.string().optional().describe('only this cluster'),
  }),
  async run(run, args) {
    const password = run.secrets.register(readFileSync(args.passwordFile, 'utf8').trim());
    for (const spec of clustersOf(await run.inventory(), args.cluster)) {
      await withPrimary(run, spec, async ({ host, session }) => {
        const ctx = await run.context(host);
        await runSteps(ctx, [
          step(`app-db: role ${args.owner}`, async () => {
            const [role] = await session.query<{ verifier: string | null }>(`select rolpassword as verifier from pg_authid where rolname = ${lit(args.owner)}`);
            if (role) return ok('exists (its password is left as it is)');
            // Run by psql on the primary host (SQL on stdin); shown by --check -v without the verifier.
            const create = (verifier: string) => `create role ${ident(args.owner)} login password ${lit(verifier)}`;
            return change(`create role ${args.owner}`, [sqlAction(spec.port, create(scramVerifier(password)), 'postgres', create('********'))]);
          }),
          step(`app-db: database ${args.name}`, async () => {
            const [db] = await session.query(`select 1 from pg_database where datname = ${lit(args.name)}`);
            if (db) return ok('exists');
            return change(`create database ${args.name} owner ${args.owner}`, [
              sqlAction(spec.port, `create database ${ident(args.name)} owner ${ident(args.owner)}`),
            ]);
          }),
        ]);
      });
    }
  },
});
