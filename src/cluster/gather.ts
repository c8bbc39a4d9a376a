import { gather } from '../engine/fact.js';
import type { Run } from '../engine/run.js';
import { pgNodeFact, type PgNodeFacts } from '../facts/postgres.js';
import { systemFact, type SystemFacts } from '../facts/system.js';
import type { MemberFacts } from './plan.js';
import type { ClusterSpec } from './vars.js';

export interface GatheredCluster {
  members: MemberFacts[];
  systemd: Map<string, boolean>;
}

/** Reads every member's system and PostgreSQL facts afresh, in parallel, one round trip per host. */
export async function gatherCluster(run: Run, spec: ClusterSpec): Promise<GatheredCluster> {
  const factOf = pgNodeFact({ cluster: spec.name, version: spec.version, port: spec.port });
  const found = new Map<string, PgNodeFacts>();
  const systemd = new Map<string, boolean>();
  const failures = new Map<string, string>();
  const outcome = await run.onHosts(
    spec.members.map((m) => m.host),
    async (ctx) => {
      // Always re-read: a task may plan again after changing the cluster (migrate-to-master does).
      await gather(ctx, [systemFact, factOf], true);
      const f = ctx.facts.get(factOf.name) as PgNodeFacts;
      found.set(ctx.host, f);
      systemd.set(ctx.host, (ctx.facts.get(systemFact.name) as SystemFacts).systemd);
      run.emit({ type: 'step', host: ctx.host, step: 'facts', status: 'ok', message: describeNode(f), check: run.options.check });
    },
  );
  for (const h of [...outcome.unreachable, ...outcome.failed]) failures.set(h, outcome.unreachable.includes(h) ? 'unreachable' : 'facts failed');
  return {
    members: spec.members.map((member) => ({ member, facts: found.get(member.host), unreachable: failures.get(member.host) })),
    systemd,
  };
}

export function describeNode(f: PgNodeFacts): string {
  const parts = [`${f.version}/${f.cluster}`, f.state];
  if (f.state === 'REPLICA' && f.upstream) parts.push(`of ${f.upstream}`);
  if (f.state === 'PRIMARY' || f.state === 'REPLICA') parts.push(f.running ? 'running' : 'stopped', `timeline ${f.timeline ?? '?'}`, `lsn ${f.lsn ?? '?'}`);
  if (f.detail) parts.push(`(${f.detail})`);
  return parts.join(' ');
}
