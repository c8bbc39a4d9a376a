import { ADMIN_USER, clusterCredentials } from '../src/cluster/credentials.js';
import { gatherCluster } from '../src/cluster/gather.js';
import { runTagAssignment } from '../src/cluster/lock.js';
import { chooseRejoin } from '../src/cluster/rejoin-choice.js';
import type { ClusterSpec, Member } from '../src/cluster/vars.js';
import { inline, sh } from '../src/connection/shell.js';
import type { Run } from '../src/engine/run.js';
import { confDir, dataDir, type PgNodeFacts } from '../src/facts/postgres.js';
import { pgServiceCommand, psql } from '../src/steps/postgres.js';
import { configureCluster } from './cluster.js';

/**
 * rejoin: brings a failed or former primary back as a replica of the current primary. pg_rewind
 * rewinds it to the point where timelines forked (finishing crash recovery first when it was not shut
 * down cleanly); --full instead moves its data directory aside (kept, renamed) and re-clones.
 * Nothing is touched before the host is known to hold this cluster's data (same system identifier).
 */
export async function rejoin(run: Run, spec: ClusterSpec, host: string, full: boolean): Promise<void> {
  const gathered = await gatherCluster(run, spec);
  const choice = chooseRejoin(spec, gathered.members, host, full);
  if ('refusal' in choice) return run.refuse(`rejoin ${host}: ${choice.refusal}; nothing was changed`);
  const { action, primary, facts: f } = choice;
  run.message(`plan: ${choice.reason}`);
  if (run.options.check) return;
  const ctx = await run.context(host);
  const emit = (step: string, message: string) => run.emit({ type: 'step', host, step: `rejoin: ${step}`, status: 'changed', message, check: false });

  if (action.kind === 'reclone' && action.moveAside) {
    const dir = dataDir(f.version, spec.name);
    if (f.running) {
      await ctx.run(pgServiceCommand({ version: f.version, cluster: spec.name, systemd: gathered.systemd.get(host) ?? false }, 'stop', 'fast'));
      emit('stop', 'stopped');
    }
    const aside = `${dir}.rejoin-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}`;
    await ctx.run(sh`mv ${dir} ${aside}`);
    emit('set aside', `${dir} kept as ${aside}; cloning afresh`);
  } else if (action.kind === 'rewind') {
    const error = await rewindReplica(run, spec, host, primary, f, gathered.systemd.get(host) ?? false);
    if (error) return void run.refuse(`rejoin ${host}: ${error}`);
  }
  await configureCluster(run, spec);
}

/**
 * Stops a node and pg_rewinds it from `primary`, leaving it stopped and marked standby for the
 * converge to start. Returns why it failed (the node is then stopped and marked standby), or undefined.
 */
export async function rewindReplica(run: Run, spec: ClusterSpec, host: string, primary: Member, f?: PgNodeFacts, systemd = false): Promise<string | undefined> {
  const ctx = await run.context(host);
  const version = f?.version ?? Number((await ctx.run(sh`ls /var/lib/postgresql | sort -n | tail -1`)).stdout.trim());
  const dir = dataDir(version, spec.name);
  const emit = (step: string, message: string) => run.emit({ type: 'step', host, step: `rejoin: ${step}`, status: 'changed', message, check: false });
  const s = { version, cluster: spec.name, systemd };
  if (f?.running ?? true) {
    await ctx.run(sh`${inline(pgServiceCommand(s, 'stop', 'fast'))} 2>/dev/null || true`);
    emit('stop', 'stopped');
  }
  const creds = await clusterCredentials(spec.credentialsDir, spec.name, false, run.secrets);
  // pg_rewind reads the source's timeline from its control file, which a fresh promotion updates only at the next checkpoint.
  await psql(await run.context(primary.host), spec.port, 'CHECKPOINT;');
  // The admin password reaches the host only as a 0600 passfile for this one command.
  const passfile = `/tmp/pgtasks-rewind-${run.io.pid}`;
  await ctx.put(passfile, `*:${spec.port}:*:${ADMIN_USER}:${creds.admin}\n`, { owner: 'postgres', group: 'postgres', mode: '0600' });
  // pg_rewind finishes an interrupted crash recovery in single-user mode, which refuses standby mode.
  await ctx.run(sh`rm -f ${`${dir}/standby.signal`}`);
  const source = `host=${primary.address} port=${spec.port} user=${ADMIN_USER} dbname=postgres passfile=${passfile}`;
  const r = await ctx.run(
    sh`${inline(runTagAssignment(spec.name))} ${`/usr/lib/postgresql/${version}/bin/pg_rewind`} ${`--target-pgdata=${dir}`} ${`--config-file=${confDir(version, spec.name)}/postgresql.conf`} ${`--source-server=${source}`} 2>&1; status=$?; rm -f ${passfile}; exit $status`,
    { user: 'postgres', allowFailure: true },
  );
  await ctx.run(sh`install -o postgres -g postgres -m 0600 /dev/null ${`${dir}/standby.signal`}`);
  if (r.code !== 0)
    return `pg_rewind failed: ${r.stdout.trim().split('\n').slice(-3).join(' / ')}; ${host} is stopped and marked standby; try 'pgtasks rejoin --host ${host} --full'`;
  emit('pg_rewind', `rewound from ${primary.host}: ${r.stdout.trim().split('\n').pop()}`);
  return undefined;
}
