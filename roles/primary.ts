import { ADMIN_USER, REPLICATION_USER } from '../src/cluster/credentials.js';
import { freshFacts, type ClusterContext } from '../src/cluster/cluster-context.js';
import { scramVerifier, verifierMatches } from '../src/cluster/scram.js';
import { longCommandEnv } from '../src/cluster/lock.js';
import { slotName } from '../src/cluster/vars.js';
import { raw, script, sh } from '../src/connection/shell.js';
import { call, runAction, sqlAction } from '../src/engine/action.js';
import type { HostContext } from '../src/engine/host-context.js';
import { change, ok, skip, step, type Step } from '../src/engine/step.js';
import { dataDir } from '../src/facts/postgres.js';
import { ident, lit, psql, query } from '../src/steps/postgres.js';
import { configRole } from './config.js';
import { serviceRole } from './service.js';
import { warnUnknownSlots } from './unknown-slots.js';

/** Promotes the chosen replica (only when the plan found no primary), before its config drops primary_conninfo. */
export function promoteStep(cc: ClusterContext): Step {
  return step('promote', async (ctx) => {
    if (cc.plan.primaryAction !== 'promote') return skip('not needed');
    return change(`promote ${ctx.host} to primary (no primary left)`, [sqlAction(cc.spec.port, 'select pg_promote(true, 60)')]);
  });
}

/**
 * initdb (with data checksums) into an EMPTY data directory; never anything else. Like a clone, it is
 * built in a side directory and moved in only when complete: a run killed during initdb leaves a
 * half-made side directory (which the next run's lock removes), never a half-made data directory
 * that would look like a cluster. initdb and the single-user postgres it starts carry the run's tag,
 * so a later run stops them if this one dies (they would hold the shared memory the server needs).
 */
export function bootstrapStep(cc: ClusterContext): Step {
  const dir = dataDir(cc.version, cc.spec.name);
  const side = `${dir}.pgtasks-initdb`;
  return step('bootstrap', async () => {
    if (cc.plan.primaryAction !== 'bootstrap') return skip('data directory exists');
    const emptyOrRefuse = (why: string) => sh`if [ -n "$(ls -A ${dir} 2>/dev/null)" ]; then echo ${`${dir} ${why}`} >&2; exit 1; fi`;
    return change(`initdb ${dir}`, [
      runAction(
        script(
          raw('set -e'),
          emptyOrRefuse('is not empty: refusing to initdb over it'),
          sh`rm -rf ${side}`,
          sh`install -d -o postgres -g postgres -m 0700 ${side}`,
        ),
      ),
      runAction(
        script(
          raw('set -e'),
          longCommandEnv(cc.spec.name),
          sh`${`/usr/lib/postgresql/${cc.version}/bin/initdb`} -D ${side} --data-checksums --auth-local=peer --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 --username=postgres >/dev/null`,
          raw("# initdb's own config files are unused (Debian reads /etc/postgresql) and would only mislead readers."),
          sh`rm -f ${['postgresql.conf', 'pg_hba.conf', 'pg_ident.conf'].map((f) => `${side}/${f}`)}`,
        ),
        { user: 'postgres' },
      ),
      runAction(
        script(raw('set -e'), emptyOrRefuse('filled up during initdb: refusing to replace it'), sh`rmdir ${dir} 2>/dev/null || true`, sh`mv ${side} ${dir}`),
      ),
    ]);
  });
}

/**
 * pgtasks' own roles must not wait for a sync replica that waits for this run to be built: committed
 * locally. Shown with the verifiers masked (a verifier is not the password, but lets one pose as the server).
 */
function rolesSql(cc: ClusterContext, sql: string[]) {
  const text = (lines: string[]) => `set synchronous_commit = local;\n${lines.join(';\n')};`;
  return sqlAction(cc.spec.port, text(sql), 'postgres', text(sql.map((l) => l.replace(/PASSWORD '[^']*'/, "PASSWORD '********'"))));
}

/** The admin and replication roles, with passwords set as scram verifiers computed locally. */
export function rolesStep(cc: ClusterContext): Step {
  const wanted = [
    { name: ADMIN_USER, attrs: 'LOGIN SUPERUSER CREATEDB CREATEROLE', password: cc.creds.admin },
    { name: REPLICATION_USER, attrs: 'LOGIN REPLICATION', password: cc.creds.replicator },
  ];
  return step('roles', async (ctx) => {
    // In check mode a cluster still to be made has no roles yet.
    const none = ctx.check && cc.plan.primaryAction === 'bootstrap' ? [] : undefined;
    const known = freshFacts(cc, ctx.host)?.roles.map((r) => [r.name, r.verifier, 't', r.superuser ? 't' : 'f', r.replication ? 't' : 'f']);
    const rows =
      none ??
      known ??
      (await query(
        ctx,
        cc.spec.port,
        `select rolname, rolpassword, rolcanlogin, rolsuper, rolreplication from pg_authid where rolname in (${wanted.map((w) => lit(w.name)).join(',')})`,
      ));
    const have = new Map(rows.map((r) => [r[0], r]));
    const sql: string[] = [];
    const what: string[] = [];
    for (const w of wanted) {
      const row = have.get(w.name);
      const attrsOk = row && row[2] === 't' && (w.name === ADMIN_USER ? row[3] === 't' : row[4] === 't');
      if (!row) {
        sql.push(`CREATE ROLE ${ident(w.name)} ${w.attrs}`);
        what.push(`create ${w.name}`);
      } else if (!attrsOk) {
        sql.push(`ALTER ROLE ${ident(w.name)} ${w.attrs}`);
        what.push(`fix ${w.name} attributes`);
      }
      if (!row || !verifierMatches(row[1], w.password)) {
        sql.push(`ALTER ROLE ${ident(w.name)} PASSWORD ${lit(scramVerifier(w.password))}`);
        if (row) what.push(`set ${w.name} password`);
      }
    }
    if (!sql.length) return ok(`${wanted.map((w) => w.name).join(', ')} up to date`);
    return change(what.join(', '), [rolesSql(cc, sql)]);
  });
}

/**
 * One physical slot per replica, so the primary keeps WAL a replica still needs; slots of hosts
 * that are no longer replicas here (deactivated, or this host itself after a promotion) are dropped.
 * `deactivated`: members just stopped by this run, whose slots go too (in --check they still look
 * active, but the run would drop them). Slots matching no member are only warned about.
 */
export function slotsStep(cc: ClusterContext, opts: { deactivated?: string[] } = {}): Step {
  return step('replication slots', async (ctx) => {
    if (ctx.check && cc.plan.primaryAction === 'bootstrap') {
      const names = cc.plan.replicas.map((r) => slotName(r.member.host));
      return names.length ? change(`create slots ${names.join(', ')}`, [sqlAction(cc.spec.port, slotsSql(names, []))]) : ok();
    }
    const wanted = new Set(cc.plan.replicas.map((r) => slotName(r.member.host)));
    const members = new Set(cc.spec.members.map((m) => slotName(m.host)));
    const known = freshFacts(cc, ctx.host)?.slots.map((sl) => [sl.name, sl.active ? 't' : 'f']);
    const rows = known ?? (await query(ctx, cc.spec.port, `select slot_name, active from pg_replication_slots where slot_type = 'physical'`));
    const have = new Set(rows.map((r) => r[0]));
    warnUnknownSlots(
      ctx,
      cc,
      rows.map((r) => ({ name: r[0]!, active: r[1] === 't' })),
    );
    const stopped = new Set((opts.deactivated ?? []).map(slotName));
    const create = [...wanted].filter((s) => !have.has(s));
    const drop = rows.filter((r) => members.has(r[0]!) && !wanted.has(r[0]!) && (r[1] === 'f' || stopped.has(r[0]!))).map((r) => r[0]!);
    if (!create.length && !drop.length) return ok(`${wanted.size} slot(s) present`);
    const summary = [create.length ? `create slot ${create.join(', ')}` : '', drop.length ? `drop slot ${drop.join(', ')}` : ''].filter(Boolean).join('; ');
    const waited = drop.filter((d) => stopped.has(d));
    return change(summary, [
      // A walsender outlives its stopped replica by a moment; dropping an active slot is an error.
      ...(waited.length ? [call(`wait (at most 10 s) until ${waited.join(', ')} is no longer active`, (c) => waitInactive(c, cc.spec.port, waited))] : []),
      sqlAction(cc.spec.port, slotsSql(create, drop)),
    ]);
  });
}

function slotsSql(create: string[], drop: string[]): string {
  const sql = [...create.map((s) => `select pg_create_physical_replication_slot(${lit(s)})`), ...drop.map((s) => `select pg_drop_replication_slot(${lit(s)})`)];
  return `${sql.join(';\n')};`;
}

async function waitInactive(ctx: HostContext, port: number, slots: string[], timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (slots.length && Date.now() < deadline) {
    const active = await psql(ctx, port, `select slot_name from pg_replication_slots where active and slot_name in (${slots.map(lit).join(',')})`);
    if (!active.length) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Everything the primary needs, in order. */
export function primaryRole(cc: ClusterContext, host: string): Step[] {
  return [promoteStep(cc), ...configRole(cc, host), bootstrapStep(cc), ...serviceRole(cc, host), rolesStep(cc), slotsStep(cc)];
}
