import { describe, expect, test } from 'vitest';
import { chooseFailoverTarget } from '../../src/cluster/failover-choice.js';
import type { MemberFacts } from '../../src/cluster/plan.js';
import { pgVarsSchema, type ClusterSpec, type Member } from '../../src/cluster/vars.js';
import { parsePgNode, type PgNodeFacts } from '../../src/facts/postgres.js';

const member = (host: string): Member => ({ host, address: `10.0.0.${host.slice(1)}`, vars: pgVarsSchema.parse({ pg_cluster: 'main' }) });
const [h1, h2, h3] = [member('h1'), member('h2'), member('h3')];
const spec: ClusterSpec = { name: 'main', members: [h1, h2, h3], port: 5432, syncReplicas: 1, credentialsDir: '/c' };

/** A running replica as the facts script reports it (the parser is part of what is tested). */
function replica(lines: string[]): PgNodeFacts {
  const out = [
    'version=15',
    'installed=1',
    'configured=1',
    'datadir=nonempty',
    'pgversion=15',
    'standby=1',
    'running=1',
    'facts_end=1',
    'recovery=true',
    'sysid=7000',
    ...lines,
  ];
  return parsePgNode(out.join('\n'), 'main', 5432);
}
const node = (m: Member, f?: PgNodeFacts): MemberFacts => ({ member: m, facts: f, unreachable: f ? undefined : 'unreachable' });

describe('failover: whom to promote', () => {
  test('after two switchovers, the replica that lost its upstream is not promoted over the one holding more WAL', () => {
    // h2's WAL receiver is gone: its timeline comes from the WAL segments it holds, not the last checkpoint.
    const h2f = replica(['tli=3', 'lsn=0/3100000', 'receiver=']);
    const h3f = replica(['tli=3', 'lsn=0/3A00000', 'receiver=streaming', 'live_upstream=10.0.0.1']);
    const choice = chooseFailoverTarget(spec, [node(h1), node(h2, h2f), node(h3, h3f)], { force: false });
    expect('target' in choice && choice.target.host).toBe('h3');
    expect('target' in choice && choice.unreachable).toEqual(['h1']);
    expect('target' in choice && choice.old?.host).toBe('h1');
  });

  test('a later timeline wins over a larger LSN; ties go to inventory order', () => {
    const a = replica(['tli=4', 'lsn=0/1000000']);
    const b = replica(['tli=3', 'lsn=0/9000000']);
    const c = chooseFailoverTarget(spec, [node(h1), node(h2, b), node(h3, a)], { force: false });
    expect('target' in c && c.target.host).toBe('h3');
    const tie = chooseFailoverTarget(spec, [node(h1), node(h2, replica(['tli=3', 'lsn=0/5'])), node(h3, replica(['tli=3', 'lsn=0/5']))], { force: false });
    expect('target' in tie && tie.target.host).toBe('h2');
  });

  test('--target behind the most advanced replica is refused; a running primary is refused without --force', () => {
    const ahead = replica(['tli=3', 'lsn=0/3A00000']);
    const behind = replica(['tli=3', 'lsn=0/3100000']);
    expect(chooseFailoverTarget(spec, [node(h1), node(h2, behind), node(h3, ahead)], { target: 'h2', force: false })).toEqual({
      refusal: '--target h2 (timeline 3, 0/3100000) is behind h3 (timeline 3, 0/3A00000): promoting it would lose transactions',
    });
    const primary = parsePgNode(
      [
        'version=15',
        'installed=1',
        'datadir=nonempty',
        'pgversion=15',
        'running=1',
        'facts_end=1',
        'recovery=false',
        'sysid=7000',
        'tli=3',
        'lsn=0/3A00000',
      ].join('\n'),
      'main',
      5432,
    );
    expect(chooseFailoverTarget(spec, [node(h1, primary), node(h2, behind), node(h3, ahead)], { force: false })).toEqual({
      refusal: 'h1 is a running primary; use migrate-to-master (or --force to fail over anyway)',
    });
  });
});

describe('facts are never guessed', () => {
  const base = ['version=15', 'installed=1', 'configured=1'];
  test('a data directory the login cannot read is UNKNOWN with the hint, not EMPTY', () => {
    const f = parsePgNode(
      [...base, 'error=cannot read /var/lib/postgresql/15/main as deploy: set ansible_become: true (or run as root)', 'facts_end=1'].join('\n'),
      'main',
      5432,
    );
    expect(f.state).toBe('UNKNOWN');
    expect(f.detail).toBe('cannot read /var/lib/postgresql/15/main as deploy: set ansible_become: true (or run as root)');
  });
  test('a facts script that did not finish is UNKNOWN', () => {
    expect(parsePgNode(base.join('\n'), 'main', 5432)).toMatchObject({ state: 'UNKNOWN', detail: 'the facts script did not finish' });
  });
  test('a stopped replica: the timeline of its newest WAL segment, not of its last checkpoint', () => {
    const f = parsePgNode(
      [...base, 'datadir=nonempty', 'pgversion=15', 'standby=1', 'sysid=7', 'ctltli=1', 'ctllsn=0/2000060', 'waltli=3', 'facts_end=1'].join('\n'),
      'main',
      5432,
    );
    expect([f.state, f.timeline, f.running]).toEqual(['REPLICA', 3, false]);
  });
  test('a configuration file newer than the last load is stale; the primary history is kept', () => {
    const f = parsePgNode(
      [
        ...base,
        'datadir=nonempty',
        'pgversion=15',
        'running=1',
        'mtime=1700000000.500000',
        'mtime=1700000001.250000',
        'facts_end=1',
        'recovery=false',
        'sysid=7',
        'tli=2',
        'conf_load=1700000001.1',
        'history=1\t0/3000000\tno recovery target specified|',
      ].join('\n'),
      'main',
      5432,
    );
    expect(f.confStale).toBe(true);
    expect(f.history).toBe('1\t0/3000000\tno recovery target specified\n');
    const fresh = parsePgNode(
      [
        ...base,
        'datadir=nonempty',
        'pgversion=15',
        'running=1',
        'mtime=1700000000.5',
        'facts_end=1',
        'recovery=false',
        'sysid=7',
        'conf_load=1700000001.1',
      ].join('\n'),
      'main',
      5432,
    );
    expect(fresh.confStale).toBe(false);
  });
});
