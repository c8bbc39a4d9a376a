import { gatherCluster } from '../src/cluster/gather.js';
import { lsnValue, type PgNodeFacts } from '../src/facts/postgres.js';
import type { ClusterSpec, Member } from '../src/cluster/vars.js';
import type { Run } from '../src/engine/run.js';
import { dataDir } from '../src/facts/postgres.js';
import { pgServiceCommand, psql } from '../src/steps/postgres.js';
import { configureCluster } from './cluster.js';

export interface FailoverOptions {
  target?: string;
  force: boolean;
  confirm: (question: string) => Promise<boolean>;
}

const advance = (f: PgNodeFacts) => [BigInt(f.timeline ?? 0), lsnValue(f.lsn)] as const;
const ahead = (a: PgNodeFacts, b: PgNodeFacts) => {
  const [ta, la] = advance(a);
  const [tb, lb] = advance(b);
  return ta !== tb ? ta > tb : la > lb;
};

/**
 * failover: the primary is down or unreachable. Fences it when it can be reached (stopped and marked
 * standby, so two primaries never take writes), promotes the most advanced replica (or --target if it
 * is at least as advanced), then converges the rest without it: replicas and PgBouncers follow the new
 * primary, the service name moves. The old primary comes back with `pgtasks rejoin`.
 */
export async function failover(run: Run, spec: ClusterSpec, opts: FailoverOptions): Promise<void> {
  const gathered = await gatherCluster(run, spec);
  const nodes = gathered.members;
  const refuse = (why: string) => run.refuse(`failover ${spec.name}: ${why}; nothing was changed`);
  const running = nodes.filter((n) => n.facts?.state === 'PRIMARY' && n.facts.running);
  // The old primary: a PRIMARY we can see, else the host the replicas were following.
  const upstreams = new Set(nodes.map((n) => n.facts?.upstream).filter(Boolean));
  const old: Member | undefined =
    nodes.find((n) => n.facts?.state === 'PRIMARY')?.member ?? nodes.find((n) => !n.facts && upstreams.has(n.member.address))?.member;
  if (running.length === 1 && !opts.force) return refuse(`${running[0]!.member.host} is a running primary; use migrate-to-master (or --force to fail over anyway)`);
  const replicas = nodes.filter((n) => n.facts?.state === 'REPLICA' && n.facts.running && n.member.vars.pg_state === 'present');
  if (!replicas.length) return refuse('no running replica to promote');
  const best = replicas.reduce((a, b) => (ahead(b.facts!, a.facts!) ? b : a));
  let target = best;
  if (opts.target) {
    const wanted = replicas.find((r) => r.member.host === opts.target);
    if (!wanted) return refuse(`--target ${opts.target} is not a running replica of ${spec.name}`);
    if (ahead(best.facts!, wanted.facts!)) return refuse(`--target ${opts.target} (${wanted.facts!.lsn}) is behind ${best.member.host} (${best.facts!.lsn}): promoting it would lose transactions`);
    target = wanted;
  }
  const fenceable = nodes.filter((n) => n.facts?.state === 'PRIMARY');
  const unfenced = old && !nodes.find((n) => n.member.host === old.host)?.facts ? old.host : undefined;
  run.message(
    `plan: ${fenceable.length ? `fence ${fenceable.map((f) => f.member.host).join(', ')} (stop, mark standby); ` : ''}promote ${target.member.host} (timeline ${target.facts!.timeline}, ${target.facts!.lsn}); converge the other members${unfenced ? `; ${unfenced} is unreachable and cannot be fenced: make sure it is down` : ''}`,
  );
  if (run.options.check) return;
  if (!(await opts.confirm(`Promote ${target.member.host} to primary of ${spec.name}?`))) return refuse('not confirmed');

  for (const f of fenceable) {
    const ctx = await run.context(f.member.host);
    const s = { version: f.facts!.version, cluster: spec.name, systemd: gathered.systemd.get(f.member.host) ?? false };
    await ctx.run(`${f.facts!.running ? `${pgServiceCommand(s, 'stop', 'immediate')} && ` : ''}install -o postgres -g postgres -m 0600 /dev/null ${dataDir(s.version, spec.name)}/standby.signal`);
    run.emit({ type: 'step', host: f.member.host, step: 'failover: fence', status: 'changed', message: 'stopped and marked standby', check: false });
  }
  // The checkpoint puts the new timeline in the control file, where pg_rewind (rejoin) looks for it.
  await psql(await run.context(target.member.host), spec.port, 'select pg_promote(true, 60);\nCHECKPOINT;');
  run.emit({ type: 'step', host: target.member.host, step: 'failover: promote', status: 'changed', message: `promoted at ${target.facts!.lsn}`, check: false });
  const exclude = [...new Set([...fenceable.map((f) => f.member.host), ...(old ? [old.host] : []), ...nodes.filter((n) => !n.facts).map((n) => n.member.host)])];
  await configureCluster(run, spec, { exclude });
  run.message(`failover done: ${target.member.host} is primary of ${spec.name}; bring ${exclude.join(', ') || 'the old primary'} back with 'pgtasks rejoin --host HOST'`);
}
