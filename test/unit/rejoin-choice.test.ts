import { describe, expect, test } from 'vitest';
import type { MemberFacts } from '../../src/cluster/plan.js';
import { chooseRejoin } from '../../src/cluster/rejoin-choice.js';
import { pgVarsSchema, type ClusterSpec, type Member } from '../../src/cluster/vars.js';
import { parsePgNode, type PgNodeFacts } from '../../src/facts/postgres.js';

const member = (host: string): Member => ({ host, address: `10.0.0.${host.slice(1)}`, vars: pgVarsSchema.parse({ pg_cluster: 'main' }) });
const [h1, h2, h3] = [member('h1'), member('h2'), member('h3')];
const spec: ClusterSpec = { name: 'main', members: [h1, h2, h3], port: 5432, syncReplicas: 0, credentialsDir: '/c' };

/** Facts as the facts script reports them (the parser is part of what is tested). */
const facts = (lines: string[]): PgNodeFacts => parsePgNode(['version=15', 'installed=1', 'configured=1', ...lines, 'facts_end=1'].join('\n'), 'main', 5432);
const withData = (lines: string[]) => facts(['datadir=nonempty', 'pgversion=15', ...lines]);
const runningPrimary = (sysid = '7000') => withData(['running=1', 'recovery=false', `sysid=${sysid}`, 'tli=3', 'lsn=0/3A00000']);
const stoppedPrimary = () => withData(['sysid=7000', 'ctltli=2', 'ctllsn=0/3000000']);
const streamingReplica = (upstream: string) =>
  withData(['standby=1', 'running=1', 'recovery=true', 'sysid=7000', 'tli=3', `live_upstream=${upstream}`, 'receiver=streaming']);
const node = (m: Member, f?: PgNodeFacts): MemberFacts => ({ member: m, facts: f, unreachable: f ? undefined : 'unreachable' });

/** h2 is the running primary after a failover, h3 streams from it; h1 (the old primary) is the one to rejoin. */
const cluster = (h1f: PgNodeFacts | undefined, h2f: PgNodeFacts = runningPrimary()) => [node(h1, h1f), node(h2, h2f), node(h3, streamingReplica(h2.address))];

describe('rejoin: refusals (nothing is changed)', () => {
  test('a host that is not a member', () => {
    expect(chooseRejoin(spec, cluster(stoppedPrimary()), 'h9', false)).toEqual({ refusal: 'h9 is not a member of cluster main' });
  });
  test('an unreachable host', () => {
    expect(chooseRejoin(spec, cluster(undefined), 'h1', false)).toEqual({ refusal: 'h1 is unreachable' });
  });
  test('a host whose state cannot be read says why', () => {
    const unreadable = facts(['error=cannot read /var/lib/postgresql/15/main as deploy: set ansible_become: true (or run as root)']);
    expect(chooseRejoin(spec, cluster(unreadable), 'h1', false)).toEqual({
      refusal: 'h1: cannot read /var/lib/postgresql/15/main as deploy: set ansible_become: true (or run as root)',
    });
  });
  test('no running primary among the others: a stopped one, or the host itself being the only primary', () => {
    const none = [node(h1, stoppedPrimary()), node(h2, stoppedPrimary()), node(h3, streamingReplica(h2.address))];
    expect(chooseRejoin(spec, none, 'h1', false)).toEqual({ refusal: 'no running primary among the other members to rejoin' });
    const itself = [node(h1, runningPrimary()), node(h2, streamingReplica(h1.address)), node(h3, streamingReplica(h1.address))];
    expect(chooseRejoin(spec, itself, 'h1', true)).toEqual({ refusal: 'no running primary among the other members to rejoin' });
  });
  test("a host holding another cluster's data (another system identifier), even with --full", () => {
    const stranger = withData(['sysid=9999', 'ctltli=1', 'ctllsn=0/1000000']);
    const refusal = {
      refusal:
        "h1 holds another cluster's data (system identifier 9999, h2 has 7000); it is not a former member: move that data directory aside yourself if it is not needed, or fix the inventory",
    };
    expect(chooseRejoin(spec, cluster(stranger), 'h1', false)).toEqual(refusal);
    expect(chooseRejoin(spec, cluster(stranger), 'h1', true)).toEqual(refusal);
  });
});

describe('rejoin: what it does', () => {
  const pick = (h1f: PgNodeFacts, full: boolean) => {
    const c = chooseRejoin(spec, cluster(h1f), 'h1', full);
    if ('refusal' in c) throw new Error(c.refusal);
    return { action: c.action, primary: c.primary.host, reason: c.reason };
  };

  test('a replica already streaming from the primary: converge only; with --full, reclone it', () => {
    expect(pick(streamingReplica(h2.address), false)).toEqual({ action: { kind: 'converge' }, primary: 'h2', reason: 'h1 already follows h2; converge only' });
    expect(pick(streamingReplica(h2.address), true)).toEqual({
      action: { kind: 'reclone', moveAside: true },
      primary: 'h2',
      reason: 'move /var/lib/postgresql/15/main aside and clone h1 from h2',
    });
  });

  test('a replica configured for the primary but not streaming (its WAL forked off) is rewound', () => {
    const waiting = withData(['standby=1', 'running=1', 'recovery=true', 'sysid=7000', 'tli=2', `live_upstream=${h2.address}`, 'receiver=waiting']);
    expect(pick(waiting, false)).toEqual({ action: { kind: 'rewind' }, primary: 'h2', reason: 'stop h1, pg_rewind it from h2, start it as a replica' });
  });

  test('a replica streaming from another host is rewound', () => {
    expect(pick(streamingReplica(h3.address), false).action).toEqual({ kind: 'rewind' });
  });

  test('the old primary, stopped or still running, is rewound; with --full its data directory is moved aside and it is recloned', () => {
    const rewind = { action: { kind: 'rewind' }, primary: 'h2', reason: 'stop h1, pg_rewind it from h2, start it as a replica' };
    expect(pick(stoppedPrimary(), false)).toEqual(rewind);
    expect(pick(runningPrimary(), false)).toEqual(rewind);
    expect(pick(stoppedPrimary(), true)).toEqual({
      action: { kind: 'reclone', moveAside: true },
      primary: 'h2',
      reason: 'move /var/lib/postgresql/15/main aside and clone h1 from h2',
    });
  });

  test('an empty or deactivated host is cloned by the converge, nothing moved aside, with or without --full', () => {
    const reclone = { action: { kind: 'reclone', moveAside: false }, primary: 'h2', reason: 'move /var/lib/postgresql/15/main aside and clone h1 from h2' };
    const empty = facts(['datadir=empty']);
    const deactivated = facts(['datadir=empty', 'deactivated=/var/lib/postgresql/15/main.deactivated-20250101']);
    expect(empty.state).toBe('EMPTY');
    expect(deactivated.state).toBe('DEACTIVATED');
    for (const f of [empty, deactivated]) for (const full of [false, true]) expect(pick(f, full)).toEqual(reclone);
  });

  test('the host facts come back for the steps', () => {
    const f = stoppedPrimary();
    const c = chooseRejoin(spec, cluster(f), 'h1', false);
    expect('facts' in c && c.facts).toBe(f);
  });
});
