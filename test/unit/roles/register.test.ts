import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { commandStep, dnsStep, hostsStep } from '../../../roles/register.js';
import type { RegistrySpec } from '../../../src/cluster/vars.js';
import { nodeFacts } from '../helpers/node-facts.js';
import { clusterFixture, fixtureView, member, planned } from '../helpers/role-fixture.js';
import { tempDir } from '../helpers/tree.js';

const [h1, h2] = [member('h1'), member('h2')];
const spec = clusterFixture({ members: [h1, h2], facts: { h1: nodeFacts('PRIMARY'), h2: nodeFacts('REPLICA') } }).spec;
const catHosts = (text: string) => ({ match: /^cat \/etc\/hosts$/, result: { stdout: text } });

describe('register: /etc/hosts provider', () => {
  test('our line missing: /etc/hosts rewritten in place (stdin, as root), every other line kept', async () => {
    const before = '127.0.0.1 localhost\n10.9.9.9 other  # mine\n';
    const view = fixtureView({ host: 'h2', reads: [catHosts(before)] });
    expect(await planned(hostsStep(spec, 'main-db', h1), view)).toEqual({
      kind: 'change',
      summary: 'main-db -> 10.0.0.1 in /etc/hosts',
      actions: [{ kind: 'run', command: 'cat > /etc/hosts', user: 'root', stdin: `${before}10.0.0.1 main-db  # pgtasks:main\n` }],
    });
  });

  test('pointing at a former primary: its line replaced', async () => {
    const view = fixtureView({ host: 'h2', reads: [catHosts('127.0.0.1 localhost\n10.0.0.2 main-db  # pgtasks:main\n')] });
    const plan = await planned(hostsStep(spec, 'main-db', h1), view);
    expect((plan.actions as { stdin: string }[])[0]!.stdin).toBe('127.0.0.1 localhost\n10.0.0.1 main-db  # pgtasks:main\n');
  });

  test('already right: ok, one read, nothing written', async () => {
    const view = fixtureView({ host: 'h2', reads: [catHosts('127.0.0.1 localhost\n10.0.0.1 main-db  # pgtasks:main\n')] });
    expect(await planned(hostsStep(spec, 'main-db', h1), view)).toEqual({ kind: 'ok', reason: 'main-db -> 10.0.0.1 in /etc/hosts' });
    expect(view.readsMade).toEqual(['cat /etc/hosts']);
  });
});

describe('register: providers run from this machine (a call, described)', () => {
  /** A PATH whose `dig` answers `a` as the A record of main-db.lab.test (its answer section), and has no CNAME. */
  const fakeDig = (a: string) => {
    const bin = tempDir('pgtasks-dig-');
    writeFileSync(join(bin, 'dig'), `#!/bin/sh\n[ -n "${a}" ] && printf 'main-db.lab.test.\\t5\\tIN\\tA\\t%s\\n' "${a}"\nexit 0\n`);
    chmodSync(join(bin, 'dig'), 0o755);
    return { PATH: `${bin}:/usr/bin:/bin` };
  };
  const dns: Extract<RegistrySpec, { provider: 'dns' }> = { provider: 'dns', server: '127.0.0.1', port: 15353, zone: 'lab.test', key_file: '/k', ttl: 5 };

  test('dns: a stale A record is replaced by an nsupdate from this machine; no read on the host', async () => {
    const view = fixtureView({ host: 'h1' });
    expect(await planned(dnsStep(spec, dns, 'main-db.lab.test', h1, fakeDig('10.0.0.2')), view)).toEqual({
      kind: 'change',
      summary: 'main-db.lab.test A 10.0.0.2 -> A 10.0.0.1',
      actions: [{ kind: 'call', what: 'nsupdate (from this machine) to 127.0.0.1: main-db.lab.test A 10.0.0.1' }],
    });
    expect(view.readsMade).toEqual([]);
  });

  test('dns: no record yet, and already right', async () => {
    expect(await planned(dnsStep(spec, dns, 'main-db.lab.test', h1, fakeDig('')), fixtureView({ host: 'h1' }))).toMatchObject({
      summary: 'main-db.lab.test (none) -> A 10.0.0.1',
    });
    expect(await planned(dnsStep(spec, dns, 'main-db.lab.test', h1, fakeDig('10.0.0.1')), fixtureView({ host: 'h1' }))).toEqual({
      kind: 'ok',
      reason: 'main-db.lab.test A 10.0.0.1',
    });
  });

  test('command: runs when the primary it was last given differs, described as what it runs', async () => {
    const dir = tempDir('pgtasks-reg-');
    const registry = { provider: 'command' as const, command: 'update-lb --to "$PGTASKS_PRIMARY_ADDRESS"' };
    const s = { ...spec, credentialsDir: dir };
    expect(await planned(commandStep(s, registry, 'main-db', h1, {}), fixtureView({ host: 'h1' }))).toEqual({
      kind: 'change',
      summary: 'main-db -> h1 (run: update-lb --to "$PGTASKS_PRIMARY_ADDRESS")',
      actions: [{ kind: 'call', what: 'run on this machine: update-lb --to "$PGTASKS_PRIMARY_ADDRESS"' }],
    });
    mkdirSync(join(dir, 'main'));
    writeFileSync(join(dir, 'main', 'registered-primary'), 'h1\n');
    expect(await planned(commandStep(s, registry, 'main-db', h1, {}), fixtureView({ host: 'h1' }))).toEqual({
      kind: 'ok',
      reason: 'main-db -> h1 (by command)',
    });
  });
});
