import { REPLICATION_USER } from '../src/cluster/credentials.js';
import { freshFacts, type ClusterContext } from '../src/cluster/cluster-context.js';
import { longCommandEnv } from '../src/cluster/lock.js';
import { slotName } from '../src/cluster/vars.js';
import { inline, raw, script, sh } from '../src/connection/shell.js';
import { runAction, sqlAction } from '../src/engine/action.js';
import { change, ok, skip, step, type Step } from '../src/engine/step.js';
import { lit, query } from '../src/steps/postgres.js';
import { confDir, dataDir } from '../src/facts/postgres.js';
import { configRole } from './config.js';
import { backupToClone, replicaSource, restoreCloneCommand } from './replica-from-backup.js';
import { pgTlsPaths, tlsEnabled } from './tls.js';
import { serviceRole } from './service.js';
import { warnUnknownSlots } from './unknown-slots.js';

/**
 * Builds a replica with pg_basebackup from the current primary, through its slot. The copy lands in a
 * side directory and is moved in only when complete and only if the data directory is still empty,
 * so an interrupted clone leaves nothing half-built and a data directory with data is never touched.
 * pg_basebackup carries the run's tag: if this run dies, its lock holder stops it, and the next run
 * (see src/cluster/lock-script.ts) stops whatever is left and removes the half-made side directory.
 * With pg_replica_source: backup the copy is a pgBackRest standby restore from the repository instead
 * (roles/replica-from-backup.ts), in the same side directory under the same tag; the primary serves
 * no base backup. Either way progress events come from the copy's output.
 */
export function cloneStep(cc: ClusterContext, host: string): Step {
  const dir = dataDir(cc.version, cc.spec.name);
  const tmp = `${dir}.pgtasks-clone`;
  const primary = cc.plan.primary;
  const sslEnv = tlsEnabled(cc.spec) ? sh`PGSSLMODE=verify-full PGSSLROOTCERT=${pgTlsPaths(cc.version, cc.spec.name).ca}` : raw('');
  return step('clone', async (view) => {
    const planned = cc.plan.replicas.find((r) => r.member.host === host);
    if (planned?.action !== 'clone') return skip('data directory exists');
    const emptyOrRefuse = (why: string) => sh`if [ -n "$(ls -A ${dir} 2>/dev/null)" ]; then echo ${`${dir} ${why}`} >&2; exit 1; fi`;
    const source = replicaSource(cc, host) === 'backup' ? await backupToClone(view, cc) : undefined;
    if (source?.why) view.message(`pg_replica_source is backup but ${source.why}: cloning from the primary ${primary.host} instead`);
    const restore = source?.label && runAction(restoreCloneCommand(cc, tmp, dir), { user: 'postgres', timeoutMs: 6 * 60 * 60_000, progress: 'pgbackrest' });
    const summary = restore
      ? `pgbackrest restore --type=standby of backup ${source.label} from ${cc.spec.backup!.repo_host}, then streams from ${primary.host}`
      : `pg_basebackup from ${primary.host}`;
    return change(summary, [
      runAction(
        script(
          raw('set -e'),
          emptyOrRefuse('is not empty: refusing to clone over it'),
          sh`rm -rf ${tmp}`,
          sh`install -d -o postgres -g postgres -m 0700 ${tmp}`,
        ),
      ),
      restore ||
        runAction(
          script(
            raw('set -e'),
            longCommandEnv(cc.spec.name),
            // pg_tls: over TLS, the primary verified against the cluster's CA (root.crt, put by the config role).
            sh`PGPASSFILE=${`${confDir(cc.version, cc.spec.name)}/pgpass`} ${inline(sslEnv)} ${`/usr/lib/postgresql/${cc.version}/bin/pg_basebackup`} -h ${primary.address} -p ${cc.spec.port} -U ${REPLICATION_USER} -D ${tmp} -X stream -S ${slotName(host)} -c fast -w --progress`,
            sh`touch ${`${tmp}/standby.signal`}`,
            sh`rm -f ${['postgresql.conf', 'pg_hba.conf', 'pg_ident.conf'].map((f) => `${tmp}/${f}`)}`,
          ),
          { user: 'postgres', timeoutMs: 6 * 60 * 60_000, progress: 'pg_basebackup' },
        ),
      runAction(
        script(raw('set -e'), emptyOrRefuse('filled up during the clone: refusing to replace it'), sh`rmdir ${dir} 2>/dev/null || true`, sh`mv ${tmp} ${dir}`),
      ),
    ]);
  });
}

export function replicaRole(cc: ClusterContext, host: string): Step[] {
  return [...configRole(cc, host), cloneStep(cc, host), ...serviceRole(cc, host), staleSlotsStep(cc, host)];
}

/**
 * A former primary keeps the slots it served replicas with; on a standby they would only pin WAL.
 * Drops the inactive slots named after members (never anything pgtasks did not make).
 */
export function staleSlotsStep(cc: ClusterContext, host: string): Step {
  return step('stale slots', async (ctx) => {
    if (ctx.check && !freshFacts(cc, host)) return skip('not running yet');
    const members = new Set(cc.spec.members.map((m) => slotName(m.host)));
    const read = () => query(ctx, cc.spec.port, `select slot_name, active from pg_replication_slots where slot_type = 'physical'`);
    let rows = freshFacts(cc, host)?.slots.map((s) => [s.name, s.active ? 't' : 'f']) ?? (await read());
    // A replica repointed in this run (it cascaded from this host during a switchover) lets go of
    // its slot here a moment after its reload: wait for that (bounded), so one run converges.
    const held = () => rows.some((r) => members.has(r[0]!) && r[1] === 't');
    if (held() && !ctx.check && [...cc.touched].some((h) => h !== host)) {
      for (const deadline = Date.now() + 5000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
        rows = await read();
        if (!held()) break;
      }
    }
    warnUnknownSlots(
      ctx,
      cc,
      rows.map((r) => ({ name: r[0]!, active: r[1] === 't' })),
    );
    const stale = rows.filter((r) => members.has(r[0]!) && r[1] === 'f').map((r) => r[0]!);
    if (!stale.length) return ok();
    return change(`drop ${stale.join(', ')} (left from when it was primary)`, [
      sqlAction(cc.spec.port, stale.map((s) => `select pg_drop_replication_slot(${lit(s)});`).join('\n')),
    ]);
  });
}
