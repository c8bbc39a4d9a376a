import { isIP } from 'node:net';
import { REPLICATION_USER } from '../src/cluster/credentials.js';
import { isReplica, memberOf, type ClusterContext } from '../src/cluster/cluster-context.js';
import { slotName, type HbaRule } from '../src/cluster/vars.js';
import { render } from '../src/engine/templates.js';
import { filesStep, type FileSpec } from '../src/steps/files.js';
import { ok, step, type Step } from '../src/engine/step.js';
import { confDir, dataDir } from '../src/facts/postgres.js';

/** pg_hba addresses: a bare IP becomes a single-host CIDR; names and CIDRs pass through. */
export function hbaAddress(address: string): string {
  if (address.includes('/')) return address;
  const family = isIP(address);
  return family === 4 ? `${address}/32` : family === 6 ? `${address}/128` : address;
}

export function hbaLine(rule: HbaRule): string {
  if (typeof rule === 'string') return rule;
  return [rule.type, rule.database, rule.user, rule.type === 'local' ? '' : rule.address ?? 'all', rule.method].filter(Boolean).join('  ');
}

/** The files of /etc/postgresql/<version>/<cluster>/ for one member, rendered for its planned role. */
export function configFiles(cc: ClusterContext, host: string): FileSpec[] {
  const member = memberOf(cc, host);
  const dir = confDir(cc.version, cc.spec.name);
  const primary = cc.plan.primary;
  const common = {
    cluster: cc.spec.name,
    host,
    version: cc.version,
    port: cc.spec.port,
    conf_dir: dir,
    data_dir: dataDir(cc.version, cc.spec.name),
    replication_user: REPLICATION_USER,
  };
  const owned = { owner: 'postgres', group: 'postgres' };
  return [
    {
      path: `${dir}/postgresql.conf`,
      ...owned,
      mode: '0644',
      content: render('postgresql.conf.j2', {
        ...common,
        listen_addresses: member.vars.pg_listen_addresses,
        upstream: isReplica(cc, host) ? { host: primary.host, address: primary.address } : null,
        application_name: slotName(host),
        parameters: member.vars.pg_parameters,
      }),
    },
    {
      path: `${dir}/pg_hba.conf`,
      ...owned,
      mode: '0640',
      content: render('pg_hba.conf.j2', {
        ...common,
        members: cc.spec.members.map((m) => ({ host: m.host, cidr: hbaAddress(m.address) })),
        extra: member.vars.pg_hba.map(hbaLine),
      }),
    },
    { path: `${dir}/pg_ident.conf`, ...owned, mode: '0640', content: '# MAPNAME  SYSTEM-USERNAME  PG-USERNAME\n' },
    { path: `${dir}/start.conf`, ...owned, mode: '0644', content: 'auto\n' },
    { path: `${dir}/pg_ctl.conf`, ...owned, mode: '0644', content: "pg_ctl_options = ''\n" },
    { path: `${dir}/environment`, ...owned, mode: '0644', content: '' },
    // Replicas (and pg_rewind) read the replication password from here, never from the command line.
    { path: `${dir}/pgpass`, ...owned, mode: '0600', secret: true, content: `*:${cc.spec.port}:*:${REPLICATION_USER}:${cc.creds.replicator}\n` },
  ];
}

/**
 * Writes a member's configuration; when anything changed, notifies the service step to reload
 * (and restart only if PostgreSQL says a setting needs it).
 */
export function configRole(cc: ClusterContext, host: string): Step[] {
  const dir = confDir(cc.version, cc.spec.name);
  return [
    step('config: directories', async (ctx) => {
      if (cc.facts.get(host)?.configured) return ok();
      const { stdout } = await ctx.run(`[ -d ${dir} ] && stat -c '%U' ${dir} || echo missing`);
      if (stdout.trim() === 'postgres') return ok();
      return {
        kind: 'change',
        summary: `create ${dir}`,
        apply: async () => {
          await ctx.run(`install -d -o postgres -g postgres -m 0755 /etc/postgresql/${cc.version} ${dir}`);
        },
      };
    }),
    notifying(filesStep('config: files', () => configFiles(cc, host)), 'postgresql-reload'),
  ];
}

/** Wraps a step so that, when it changes something, it notifies a handler on the host. */
export function notifying(s: Step, handler: string): Step {
  return step(s.name, async (ctx) => {
    const plan = await s.plan(ctx);
    if (plan.kind !== 'change') return plan;
    return {
      ...plan,
      apply: async () => {
        await plan.apply();
        ctx.notified.add(handler);
      },
    };
  });
}
