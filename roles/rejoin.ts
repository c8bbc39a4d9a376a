import { ADMIN_USER, clusterCredentials } from '../src/cluster/credentials.js';
import { gatherCluster } from '../src/cluster/gather.js';
import { runTagAssignment } from '../src/cluster/lock.js';
import { LOCK_BASE } from '../src/cluster/lock-script.js';
import { planRejoin, REJOIN_STAGES, REWIND_STAGES, rewindPhases } from '../src/cluster/rejoin-plan.js';
import type { Phase } from '../src/cluster/switchover-plan.js';
import type { ClusterSpec, Member } from '../src/cluster/vars.js';
import { inline, sh } from '../src/connection/shell.js';
import { call, putAction, runAction, sqlAction, type Action } from '../src/engine/action.js';
import { reads } from '../src/engine/host-view.js';
import type { Run } from '../src/engine/run.js';
import { confDir, dataDir, type PgNodeFacts } from '../src/facts/postgres.js';
import { pgServiceCommand } from '../src/steps/postgres.js';
import { configureCluster } from './cluster.js';
import { runStage } from './handover.js';
import { pgServiceAction } from './service.js';
import { pgTlsPaths, tlsEnabled } from './tls.js';

/** What the rewind's actions need to know of a host: its PostgreSQL major, and whether systemd owns the service. */
export type RewoundHost = (host: string) => { version: number; systemd: boolean };

/**
 * The actions of a rewind's steps (rejoin-plan's rewindPhases), by step name. pg_rewind gets the
 * admin password only as a 0600 passfile for its one command; whatever its outcome, the host is left
 * stopped and marked standby (pg_rewind finishes an interrupted crash recovery in single-user mode,
 * which refuses standby mode: the mark goes after it).
 */
export function rewindActions(
  spec: ClusterSpec,
  prefix: string,
  primary: Member,
  password: string,
  pid: number,
  of: RewoundHost,
): Record<string, (host: string) => Action[]> {
  return {
    [`${prefix}: checkpoint`]: () => [sqlAction(spec.port, 'CHECKPOINT;')],
    [`${prefix}: stop`]: (host) => {
      const { version, systemd } = of(host);
      return [runAction(sh`${inline(pgServiceCommand({ version, cluster: spec.name, systemd }, 'stop', 'fast'))} 2>/dev/null || true`)];
    },
    [`${prefix}: pg_rewind`]: (host) => {
      const { version } = of(host);
      const dir = dataDir(version, spec.name);
      const passfile = `/tmp/pgtasks-rewind-${pid}`;
      const source = `host=${primary.address} port=${spec.port} user=${ADMIN_USER} dbname=postgres passfile=${passfile}${tlsEnabled(spec) ? ` sslmode=verify-full sslrootcert=${pgTlsPaths(version, spec.name).ca}` : ''}`;
      // A run killed after pg_rewind finished but before the standby mark left a rewound directory (pg_rewind's
      // backup_label, its control file "in archive recovery", written last). pg_rewind again would first
      // finish that recovery in single-user mode, as a primary: a shutdown checkpoint of its own on the
      // primary's timeline, which no replica can stream past. It only needs the mark.
      const rewound = sh`grep -qsx 'BACKUP METHOD: pg_rewind' ${`${dir}/backup_label`} && LC_ALL=C ${`/usr/lib/postgresql/${version}/bin/pg_controldata`} ${dir} | grep -q '^Database cluster state: *in archive recovery$'`;
      // pg_rewind stopped half-way (killed, or failed) leaves a directory PostgreSQL's docs say not to
      // trust: its marker stays until a pg_rewind succeeds, and a plain rejoin then refuses; --full sets
      // the directory aside and clears it.
      const marker = rewindingMarker(spec.name);
      const command = sh`if ${inline(rewound)}; then rm -f ${passfile} ${marker}; echo 'rewound by an earlier run already (its backup_label and control file say so): only marked standby'; exit 0; fi
if [ -e ${marker} ]; then rm -f ${passfile}; echo 'an earlier pg_rewind of this data directory did not finish: it cannot be trusted, and is not rewound again'; exit 3; fi
touch ${marker} 2>&1 || exit 3
${inline(runTagAssignment(spec.name))} ${`/usr/lib/postgresql/${version}/bin/pg_rewind`} ${`--target-pgdata=${dir}`} ${`--config-file=${confDir(version, spec.name)}/postgresql.conf`} ${`--source-server=${source}`} 2>&1; status=$?; rm -f ${passfile}; [ $status != 0 ] || rm -f ${marker}; exit $status`;
      return [
        putAction({
          path: passfile,
          content: `*:${spec.port}:*:${ADMIN_USER}:${password}\n`,
          owner: 'postgres',
          group: 'postgres',
          mode: '0600',
          secret: true,
        }),
        runAction(sh`rm -f ${`${dir}/standby.signal`}`),
        call(`[as postgres] ${command}; then mark it standby whatever the outcome`, async (ctx) => {
          const r = await ctx.run(command, { user: 'postgres', allowFailure: true, quiet: true });
          await ctx.run(sh`install -o postgres -g postgres -m 0600 /dev/null ${`${dir}/standby.signal`}`);
          const out = r.stdout.trim().split('\n');
          if (r.code !== 0)
            throw new Error(
              `pg_rewind failed: ${out.slice(-3).join(' / ')}; ${host} is stopped and marked standby; try 'pgtasks rejoin --host ${host} --full'`,
            );
          ctx.message(`pg_rewind: ${out.pop()}`);
        }),
      ];
    },
  };
}

/**
 * There while pg_rewind works on the cluster's data directory: left behind, the rewind did not finish.
 * Beside the cluster's lock files, in postgres's own home: pg_rewind runs as postgres, and would
 * remove a file of its own in the data directory (the folder above that may be root's).
 */
export function rewindingMarker(cluster: string): string {
  return `${LOCK_BASE}/.pgtasks-${cluster}.rewinding`;
}

const byName = (actions: Record<string, (host: string) => Action[]>) => (p: Phase) => {
  const build = actions[p.step];
  if (!build) throw new Error(`no actions for ${p.step}`);
  return build(p.host);
};

/**
 * rejoin: brings a failed or former primary back as a replica of the current primary. pg_rewind
 * rewinds it to the point where timelines forked (finishing crash recovery first when it was not shut
 * down cleanly); --full instead moves its data directory aside (kept, renamed) and re-clones.
 * Nothing is touched before the host is known to hold this cluster's data (same system identifier).
 * The decision is planRejoin's; its steps are engine steps, then configure-cluster converges.
 */
export async function rejoin(run: Run, spec: ClusterSpec, host: string, full: boolean): Promise<void> {
  const gathered = await gatherCluster(run, spec);
  const plan = planRejoin(spec, gathered.members, host, full, new Date());
  if ('refusal' in plan) return run.refuse(`rejoin ${host}: ${plan.refusal}; nothing was changed`);
  const { primary, facts: f } = plan;
  run.message(plan.message);
  const s = { version: f.version, cluster: spec.name, systemd: gathered.systemd.get(host) ?? false };
  const creds = await clusterCredentials(spec.credentialsDir, spec.name, false, run.secrets);
  const actionsOf = byName(
    plan.action.kind === 'rewind'
      ? rewindActions(spec, 'rejoin', primary, creds.admin, run.io.pid, () => s)
      : {
          'rejoin: stop': () => [pgServiceAction(s, 'stop', 'fast')],
          'rejoin: set aside': () => [runAction(sh`mv ${dataDir(f.version, spec.name)} ${plan.aside!} && rm -f ${rewindingMarker(spec.name)}`)],
        },
  );
  const failed = new Set<string>();
  try {
    for (const name of REJOIN_STAGES)
      await runStage(
        run,
        plan.phases.filter((p) => p.stage === name),
        actionsOf,
        failed,
      );
  } catch (err) {
    return void run.refuse(`rejoin ${host}: ${(err as Error).message}`);
  }
  if (run.options.check) return;
  await configureCluster(run, spec);
}

/**
 * Stops a node and pg_rewinds it from `primary`, leaving it stopped and marked standby for the
 * converge to start. Returns why it failed (the node is then stopped and marked standby), or undefined.
 */
export async function rewindReplica(run: Run, spec: ClusterSpec, host: string, primary: Member, f?: PgNodeFacts, systemd = false): Promise<string | undefined> {
  const ctx = await run.context(host);
  const version = f?.version ?? Number((await ctx.view.read(reads(sh`ls /var/lib/postgresql | sort -n | tail -1`))).stdout.trim());
  const creds = await clusterCredentials(spec.credentialsDir, spec.name, false, run.secrets);
  const actionsOf = byName(rewindActions(spec, 'rejoin', primary, creds.admin, run.io.pid, () => ({ version, systemd })));
  const phases = rewindPhases('rejoin', [{ host, running: f?.running }], primary);
  const failed = new Set<string>();
  try {
    for (const name of REWIND_STAGES)
      await runStage(
        run,
        phases.filter((p) => p.stage === name),
        actionsOf,
        failed,
      );
  } catch (err) {
    return (err as Error).message;
  }
  return undefined;
}
