import { createHash } from 'node:crypto';
import { ChangeLog } from '../../../src/engine/changes.js';
import { actionData } from '../../../src/engine/action.js';
import type { ClusterContext } from '../../../src/cluster/cluster-context.js';
import { planCluster, type MemberFacts } from '../../../src/cluster/plan.js';
import { pgVarsSchema, type ClusterSpec, type Member, type RegistrySpec } from '../../../src/cluster/vars.js';
import type { CommandResult } from '../../../src/connection/types.js';
import type { HostView, ReadCommand, ReadOptions } from '../../../src/engine/host-view.js';
import type { Step } from '../../../src/engine/step.js';
import { Templates } from '../../../src/engine/templates.js';
import type { BouncerFacts } from '../../../src/facts/pgbouncer.js';
import type { PgNodeFacts } from '../../../src/facts/postgres.js';
import type { FileSpec } from '../../../src/steps/files.js';
import { provideTlsMaterial } from '../../../roles/tls.js';
import { fixtureTlsMaterial } from './tls-fixture.js';

/*
 * Role fixtures, the pyinfra way: a step is planned against a host that exists only as data (inventory
 * vars, facts, answers to the reads it makes), and the test compares the actions it returns, or the
 * reason it does nothing. No host, no SSH: a plan that tries to read something the fixture does not
 * answer fails, naming the command.
 */

/** An answer to a read the plan makes: matched on the command text (and the SQL on stdin). */
export interface ReadAnswer {
  match: RegExp;
  result: Partial<CommandResult>;
}

export interface FixtureHost {
  host: string;
  vars?: Record<string, unknown>;
  check?: boolean;
  /** Facts by name, as gathered (e.g. { system: {...} }). */
  facts?: Record<string, unknown>;
  notified?: string[];
  reads?: ReadAnswer[];
}

/** A read-only host made of data. `reads` lists what the plan read, in order. */
export function fixtureView(h: FixtureHost): HostView & { readsMade: string[]; messages: string[] } {
  const readsMade: string[] = [];
  const messages: string[] = [];
  const notified = new Set(h.notified ?? []);
  return {
    host: h.host,
    vars: h.vars ?? {},
    check: h.check ?? false,
    options: { check: h.check ?? false, diff: false, verbose: false },
    facts: new Map(Object.entries(h.facts ?? {})),
    notified,
    readsMade,
    messages,
    async read(command: ReadCommand, options: ReadOptions = {}): Promise<CommandResult> {
      const text = `${command}${options.stdin ? `\n<<< ${options.stdin}` : ''}`;
      readsMade.push(text);
      const answer = (h.reads ?? []).find((r) => r.match.test(text));
      if (!answer) throw new Error(`fixture for ${h.host} has no answer for the read:\n${text}`);
      const result = { code: 0, stdout: '', stderr: '', ...answer.result };
      if (result.code !== 0 && !options.allowFailure) throw new Error(`read failed (exit ${result.code}): ${text}`);
      return result;
    },
    message(text: string) {
      messages.push(text);
    },
  };
}

/** statFiles' answer for files that exist with exactly this content, owner and mode (the no-op case). */
export function filesAsWanted(files: FileSpec[]): ReadAnswer {
  const lines = files.flatMap((f) => [
    `S ${f.path} ${f.owner ?? 'root'} ${f.group ?? 'root'} ${(f.mode ?? '0644').replace(/^0/, '')}`,
    `H ${createHash('sha256').update(f.content).digest('hex')}  ${f.path}`,
  ]);
  return { match: /^for f in .*stat -c 'S %n %U %G %a'/s, result: { stdout: lines.join('\n') } };
}

/** statFiles' answer when none of the files exist. */
export function filesMissing(paths: string[]): ReadAnswer {
  return { match: /^for f in .*stat -c 'S %n %U %G %a'/s, result: { stdout: paths.map((p) => `M ${p}`).join('\n') } };
}

export const member = (host: string, vars: Record<string, unknown> = {}): Member => ({
  host,
  address: `10.0.0.${host.replace(/\D/g, '') || '1'}`,
  vars: pgVarsSchema.parse({ pg_cluster: 'main', ...vars }),
});

export interface ClusterFixture {
  members: Member[];
  facts: Record<string, PgNodeFacts | undefined>;
  syncReplicas?: number;
  serviceName?: string;
  systemd?: boolean;
  /** Hosts this run has already changed (their facts no longer hold: steps read again). */
  touched?: string[];
  /** Running PgBouncers' live state per host (SHOW DATABASES, pause). */
  bouncers?: Record<string, BouncerFacts>;
  registry?: RegistrySpec;
  credentialsDir?: string;
}

/** A ClusterContext as configure-cluster builds it: the real planner over the fixture's facts. */
export function clusterFixture(f: ClusterFixture): ClusterContext {
  const spec: ClusterSpec = {
    name: 'main',
    members: f.members,
    port: 5432,
    syncReplicas: f.syncReplicas ?? 0,
    credentialsDir: f.credentialsDir ?? '/nonexistent/credentials',
    serviceName: f.serviceName,
    registry: f.registry,
  };
  // pg_tls (on by default): the members' certificates come from a temporary folder, never the fixture's credentials one.
  provideTlsMaterial(spec, () => fixtureTlsMaterial(spec));
  const gathered: MemberFacts[] = f.members.map((m) => ({ member: m, facts: f.facts[m.host] }));
  const facts = new Map(Object.entries(f.facts).filter((e): e is [string, PgNodeFacts] => e[1] !== undefined));
  return {
    spec,
    plan: planCluster(spec, gathered),
    version: 15,
    creds: { admin: 'admin-secret-pw', replicator: 'repl-secret-pw', created: false, dir: '/nonexistent/credentials/main' },
    facts,
    systemd: new Map(f.members.map((m) => [m.host, f.systemd ?? false])),
    bouncers: new Map(Object.entries(f.bouncers ?? {})),
    touched: touchedSet(f.touched ?? []),
    templates: new Templates(),
  };
}

function touchedSet(hosts: string[]) {
  const touched = new ChangeLog().since(0);
  for (const h of hosts) touched.add(h);
  return touched;
}

/** Plans one step on a fixture host: `{ kind: 'ok' | 'skip', reason }` or `{ kind: 'change', summary, actions }` as data. */
export async function planned(s: Step, view: HostView): Promise<Record<string, unknown>> {
  const plan = await s.plan(view);
  if (plan.kind !== 'change') return plan;
  return { kind: 'change', summary: plan.summary, actions: actionData(plan.actions) };
}

/** Plans steps in order (notifications from earlier changes reach later steps, as in a run), by step name. */
export async function plannedAll(steps: Step[], view: HostView): Promise<Record<string, Record<string, unknown>>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const s of steps) {
    const plan = await s.plan(view);
    if (plan.kind === 'change')
      for (const a of plan.actions) if (a.kind === 'notify') if (view.notified instanceof Set) view.notified[a.handled ? 'delete' : 'add'](a.handler); // a fixtureView's own Set
    out[s.name] = plan.kind === 'change' ? { kind: 'change', summary: plan.summary, actions: actionData(plan.actions) } : plan;
  }
  return out;
}
