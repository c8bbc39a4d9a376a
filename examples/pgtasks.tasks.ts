/**
 * An example team task file. Put yours as ./pgtasks.tasks.ts (or pass --tasks FILE): its tasks show up
 * in `pgtasks --list` beside the built-ins and use the same inventory, flags and reporting.
 *
 *   pgtasks --tasks examples/pgtasks.tasks.ts uptime
 *   pgtasks --tasks examples/pgtasks.tasks.ts --check motd --text "maintenance at 18:00"
 */
import { filesStep, runSteps, sh, task, z } from 'pgtasks';

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
