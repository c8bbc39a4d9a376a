import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { desiredRecord, nsupdateScript } from '../../src/registry/dns.js';
import { rewriteHosts } from '../../src/registry/hosts-file.js';
import { tempDir } from './helpers/tree.js';

const dns = { provider: 'dns' as const, server: '127.0.0.1', port: 15353, zone: 'lab.test', key_file: '/k', ttl: 5 };

describe('service name registration', () => {
  test('an IP gets an A record, a name a CNAME', () => {
    expect(desiredRecord(dns, '10.0.0.1', 'h1')).toEqual({ type: 'A', value: '10.0.0.1' });
    expect(desiredRecord(dns, 'db1.example.com', 'h1')).toEqual({ type: 'CNAME', value: 'db1.example.com.' });
    expect(desiredRecord({ ...dns, record: 'CNAME' }, '10.0.0.1', 'h1.lab.test')).toEqual({ type: 'CNAME', value: 'h1.lab.test.' });
    expect(() => desiredRecord({ ...dns, record: 'A' }, 'db1.example.com', 'h1')).toThrow(/not an IP/);
  });

  test('one nsupdate transaction replaces A and CNAME', () => {
    expect(nsupdateScript(dns, 'orders.lab.test', { type: 'A', value: '10.0.0.2' })).toBe(
      'server 127.0.0.1 15353\nzone lab.test\nupdate delete orders.lab.test. A\nupdate delete orders.lab.test. CNAME\nupdate add orders.lab.test. 5 A 10.0.0.2\nsend\n',
    );
  });

  test('/etc/hosts: our line replaced, everything else untouched, idempotent', () => {
    const before = '127.0.0.1 localhost\n10.0.0.9 other  # pgtasks:billing\n10.0.0.1 orders  # pgtasks:orders\n# a comment\n';
    const after = rewriteHosts(before, 'orders', 'orders', '10.0.0.2');
    expect(after).toBe('127.0.0.1 localhost\n10.0.0.9 other  # pgtasks:billing\n# a comment\n10.0.0.2 orders  # pgtasks:orders\n');
    expect(rewriteHosts(after, 'orders', 'orders', '10.0.0.2')).toBe(after);
    expect(rewriteHosts('127.0.0.1 localhost', 'x', 'n', '1.2.3.4')).toBe('127.0.0.1 localhost\n1.2.3.4 n  # pgtasks:x\n');
  });
});

describe('command provider', async () => {
  const { registerPrimary } = await import('../../roles/register.js');
  const { Run } = await import('../../src/engine/run.js');
  const { LocalConnection } = await import('../../src/connection/local.js');
  const { pgVarsSchema } = await import('../../src/cluster/vars.js');

  test('runs only when the primary changed, with the name and primary in its environment', async () => {
    const dir = tempDir('pgtasks-reg-');
    const out = join(dir, 'calls');
    const registry = { provider: 'command' as const, command: `echo "$PGTASKS_SERVICE_NAME $PGTASKS_PRIMARY $PGTASKS_PRIMARY_ADDRESS" >> ${out}` };
    const member = (host: string, address: string) => ({ host, address, vars: pgVarsSchema.parse({ pg_cluster: 'c' }) });
    const spec = { name: 'c', members: [], port: 5432, syncReplicas: 0, serviceName: 'c-db', registry, credentialsDir: dir };
    const events: { status?: string }[] = [];
    const inventory = {
      sources: [],
      groups: new Map(),
      hosts: new Map([
        ['h1', { name: 'h1', vars: {} }],
        ['h2', { name: 'h2', vars: {} }],
      ]),
    };
    const run = new Run(
      async () => inventory,
      { check: false, diff: false, verbose: false, forks: 5, json: false },
      { emit: (e) => events.push(e as never) },
      async (h) => new LocalConnection(h),
    );
    await registerPrimary(run, spec, member('h1', '10.0.0.1'));
    await registerPrimary(run, spec, member('h1', '10.0.0.1'));
    await registerPrimary(run, spec, member('h2', '10.0.0.2'));
    expect(readFileSync(out, 'utf8')).toBe('c-db h1 10.0.0.1\nc-db h2 10.0.0.2\n');
    expect(events.map((e) => e.status)).toEqual(['changed', 'ok', 'changed']);
    expect(readFileSync(join(dir, 'c', 'registered-primary'), 'utf8')).toBe('h2\n');
  });
});
