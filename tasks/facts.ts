import { z } from 'zod';
import { task } from '../src/engine/task.js';
import type { PgClusterLine } from '../src/facts/pg-clusters.js';
import type { SystemFacts } from '../src/facts/system.js';

export default task({
  name: 'facts',
  help: 'Connect to every host in parallel and print a one-line summary of its facts',
  description:
    'Shows hostname, OS, installed PostgreSQL majors and running clusters per host. Doubles as a reachability check: exits non-zero when a host is unreachable.',
  args: z.object({
    hosts: z.string().default('all').describe('Ansible host pattern of the hosts to look at'),
  }),
  async run(run, args) {
    const [{ gather }, { pgClustersFact }, { systemFact }] = await Promise.all([
      import('../src/engine/fact.js'),
      import('../src/facts/pg-clusters.js'),
      import('../src/facts/system.js'),
    ]);
    const hosts = await run.hosts(args.hosts);
    const rows: Record<string, { system: SystemFacts; clusters: PgClusterLine[] }> = {};
    await run.onHosts(hosts, async (ctx) => {
      await gather(ctx, [systemFact, pgClustersFact]);
      const system = ctx.facts.get('system') as SystemFacts;
      const clusters = ctx.facts.get('pg-clusters') as PgClusterLine[];
      rows[ctx.host] = { system, clusters };
      const running = clusters.filter((c) => c.status.startsWith('online')).map((c) => `${c.version}/${c.name}:${c.port}`);
      run.emit({
        type: 'step',
        host: ctx.host,
        step: 'facts',
        status: 'ok',
        check: run.options.check,
        message: `${system.hostname} | ${system.os} | postgresql ${system.postgresMajors.join(',') || 'none'} | running: ${running.join(' ') || 'none'}`,
      });
    });
    run.emit({ type: 'result', task: 'facts', data: rows, text: '' });
  },
});
