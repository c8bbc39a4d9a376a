import { ADMIN_USER, clusterCredentials } from '../src/cluster/credentials.js';
import { gatherCluster } from '../src/cluster/gather.js';
import { runTagAssignment } from '../src/cluster/lock.js';
import { currentPrimary } from '../src/cluster/switchover-checks.js';
import type { ClusterSpec } from '../src/cluster/vars.js';
import type { Run } from '../src/engine/run.js';
import { confDir, dataDir } from '../src/facts/postgres.js';
import { pgServiceCommand, psql } from '../src/steps/postgres.js';
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
  // Configured for the primary is not enough: a replica whose WAL forked off stays 'waiting for WAL'.
  const following = f.state === 'REPLICA' && f.running && f.upstream === primary.address && f.walReceiverStatus === 'streaming';
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
      // pg_rewind reads the source's timeline from its control file, which a fresh promotion updates only at the next checkpoint.
      await psql(await run.context(primary.host), spec.port, 'CHECKPOINT;');
      // The admin password reaches the host only as a 0600 passfile for this one command.
      const passfile = `/tmp/pgtasks-rewind-${process.pid}`;
      await ctx.put(passfile, `*:${spec.port}:*:${ADMIN_USER}:${creds.admin}\n`, { owner: 'postgres', group: 'postgres', mode: '0600' });
      // pg_rewind finishes an interrupted crash recovery in single-user mode, which refuses standby mode.
      await ctx.run(`rm -f ${dir}/standby.signal`);
      const r = await ctx.run(
        `${runTagAssignment(spec.name)} /usr/lib/postgresql/${f.version}/bin/pg_rewind --target-pgdata=${dir} --config-file=${confDir(f.version, spec.name)}/postgresql.conf --source-server='host=${primary.address} port=${spec.port} user=${ADMIN_USER} dbname=postgres passfile=${passfile}' 2>&1; status=$?; rm -f ${passfile}; exit $status`,
        { user: 'postgres', allowFailure: true },
      );
      if (r.code !== 0) {
        await ctx.run(`install -o postgres -g postgres -m 0600 /dev/null ${dir}/standby.signal`);
        run.refuse(`rejoin ${host}: pg_rewind failed: ${r.stdout.trim().split('\n').slice(-3).join(' / ')}; ${host} is stopped and marked standby; try --full`);
        return;
      }
      await ctx.run(`install -o postgres -g postgres -m 0600 /dev/null ${dir}/standby.signal`);
      emit('pg_rewind', `rewound from ${primary.host}: ${r.stdout.trim().split('\n').pop()}`);
    }
  }
  await configureCluster(run, spec);
}
