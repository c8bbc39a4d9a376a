import { ADMIN_USER, clusterCredentials } from '../src/cluster/credentials.js';
import { gatherCluster } from '../src/cluster/gather.js';
import { currentPrimary } from '../src/cluster/switchover-checks.js';
import type { ClusterSpec } from '../src/cluster/vars.js';
import type { Run } from '../src/engine/run.js';
import { confDir, dataDir } from '../src/facts/postgres.js';
import { pgServiceCommand } from '../src/steps/postgres.js';
import { configureCluster } from './cluster.js';

/**
 * rejoin: brings a failed or former primary back as a replica of the current primary. pg_rewind
 * rewinds it to the point where timelines forked (finishing crash recovery first when it was not shut
 * down cleanly); --full instead moves its data directory aside (kept, renamed) and re-clones.
 */
export async function rejoin(run: Run, spec: ClusterSpec, host: string, full: boolean): Promise<void> {
  const gathered = await gatherCluster(run, spec);
  const refuse = (why: string) => run.refuse(`rejoin ${host}: ${why}; nothing was changed`);
  const me = gathered.members.find((m) => m.member.host === host);
  if (!me) return refuse(`${host} is not a member of cluster ${spec.name}`);
  if (!me.facts) return refuse(`${host} is unreachable`);
  const primary = currentPrimary(gathered.members.filter((m) => m.member.host !== host));
  if (!primary) return refuse(`no running primary among the other members to rejoin`);
  const f = me.facts;
  const s = { version: f.version, cluster: spec.name, systemd: gathered.systemd.get(host) ?? false };
  const dir = dataDir(f.version, spec.name);
  const following = f.state === 'REPLICA' && f.running && f.upstream === primary.address;
  run.message(`plan: ${following && !full ? `${host} already follows ${primary.host}; converge only` : full || f.state === 'EMPTY' || f.state === 'DEACTIVATED' ? `move ${dir} aside and clone ${host} from ${primary.host}` : `stop ${host}, pg_rewind it from ${primary.host}, start it as a replica`}`);
  if (run.options.check) return;
  const ctx = await run.context(host);
  const emit = (step: string, message: string) => run.emit({ type: 'step', host, step: `rejoin: ${step}`, status: 'changed', message, check: false });

  if (!following || full) {
    if (f.running) {
      await ctx.run(pgServiceCommand(s, 'stop', 'fast'));
      emit('stop', 'stopped');
    }
    if (full && f.state !== 'EMPTY' && f.state !== 'DEACTIVATED') {
      const aside = `${dir}.rejoin-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}`;
      await ctx.run(`mv ${dir} ${aside}`);
      emit('set aside', `${dir} kept as ${aside}; cloning afresh`);
    } else if (f.state === 'PRIMARY' || f.state === 'REPLICA') {
      const creds = await clusterCredentials(spec.credentialsDir, spec.name, false);
      // The admin password reaches the host only as a 0600 passfile for this one command.
      const passfile = `/tmp/pgtasks-rewind-${process.pid}`;
      await ctx.put(passfile, `*:${spec.port}:*:${ADMIN_USER}:${creds.admin}\n`, { owner: 'postgres', group: 'postgres', mode: '0600' });
      const r = await ctx.run(
        `/usr/lib/postgresql/${f.version}/bin/pg_rewind --target-pgdata=${dir} --config-file=${confDir(f.version, spec.name)}/postgresql.conf --source-server='host=${primary.address} port=${spec.port} user=${ADMIN_USER} dbname=postgres passfile=${passfile}' 2>&1; status=$?; rm -f ${passfile}; exit $status`,
        { user: 'postgres', allowFailure: true },
      );
      if (r.code !== 0) return refuse(`pg_rewind failed: ${r.stdout.trim().split('\n').slice(-3).join(' / ')}; try --full`);
      await ctx.run(`install -o postgres -g postgres -m 0600 /dev/null ${dir}/standby.signal`);
      emit('pg_rewind', `rewound from ${primary.host}: ${r.stdout.trim().split('\n').pop()}`);
    }
  }
  await configureCluster(run, spec);
}
