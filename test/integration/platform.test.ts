import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { stringify } from 'yaml';
import { hostExec, labDown, labUp, type Lab } from '../lab/lab.js';
import { bash } from '../lab/shell.js';
import { pgtasks } from './helpers/pgtasks.js';
import { registerPrimary } from '../../roles/register.js';
import { pgVarsSchema } from '../../src/cluster/vars.js';
import type { RunEvent } from '../../src/engine/events.js';
import { Run } from '../../src/engine/run.js';
import { loadInventory } from '../../src/inventory/index.js';
import { labDescribe } from './helpers/lab-describe.js';

const LAB = 'plat';

labDescribe('platform on the lab: SSH engine, parallel hosts, host keys', () => {
  let lab: Lab;
  const inventory = (name: string, vars: Record<string, unknown> = {}) => {
    const file = join(lab.dir, `${name}.yml`);
    writeFileSync(
      file,
      stringify({
        all: {
          vars: { ansible_user: 'root', ansible_ssh_private_key_file: lab.privateKeyFile, ssh_known_hosts_file: lab.knownHostsFile, ...vars },
          hosts: Object.fromEntries(lab.hosts.map((h) => [h.name, { ansible_host: h.address }])),
        },
      }),
    );
    return file;
  };
  const accepted = async (host: string) => Number((await bash(`grep -c 'Accepted publickey' ${lab.dir}/hosts/${host}/sshd.log || true`)).stdout.trim());

  beforeAll(async () => {
    lab = await labUp({ hosts: 3, name: LAB });
  });
  afterAll(async () => {
    await labDown(LAB);
  });

  test('lab hosts are separate machines: own hostname, own /var/lib/postgresql, reachable from each other', async () => {
    await hostExec(lab, 'h1', 'echo mine > /var/lib/postgresql/marker');
    expect((await hostExec(lab, 'h1', 'hostname; cat /var/lib/postgresql/marker')).stdout).toBe('h1\nmine\n');
    expect((await hostExec(lab, 'h2', 'hostname; ls /var/lib/postgresql')).stdout).toBe('h2\n');
    expect((await hostExec(lab, 'h1', `bash -c 'echo > /dev/tcp/${lab.hosts[1]!.address}/22' && echo reached`)).stdout).toContain('reached');
    expect((await hostExec(lab, 'h3', 'ps -e -o comm= | sort -u')).stdout).not.toMatch(/node|vitest/);
  });

  test("a lab whose name hashes to this one's network is refused while this one is up; this one is untouched", async () => {
    // 'fleet' (the bench's lab) and 'plat' share 10.231.44.0/24.
    await expect(labUp({ hosts: 1, name: 'fleet' })).rejects.toThrow(/lab fleet would share 10\.231\.44\.0\/24 \(pgtbr44\) with lab plat, which is up/);
    expect((await hostExec(lab, 'h1', `bash -c 'echo > /dev/tcp/${lab.hosts[1]!.address}/22' && echo reached`)).stdout).toContain('reached');
  });

  test('facts: every host in parallel, one SSH connection per host for the whole call', async () => {
    const before = await Promise.all(lab.hosts.map((h) => accepted(h.name)));
    const r = await pgtasks(['-i', inventory('strict'), 'facts', 'facts', 'inventory']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.events.flatMap((e) => (e.type === 'step' ? [`${e.host} ${e.message?.split(' | ')[0]}`] : []));
    expect(lines.sort()).toEqual(['h1 h1', 'h1 h1', 'h2 h2', 'h2 h2', 'h3 h3', 'h3 h3']);
    const after = await Promise.all(lab.hosts.map((h) => accepted(h.name)));
    expect(after.map((n, i) => n - before[i]!)).toEqual([1, 1, 1]);
  });

  test('hosts run in parallel up to --forks', async () => {
    const tasks = join(lab.dir, 'sleep.tasks.ts');
    writeFileSync(
      tasks,
      `import { task, z } from 'pgtasks';
export const nap = task({ name: 'nap', help: 'sleep 1 s on every host', args: z.object({}),
  async run(run) {
    const hosts = await run.hosts();
    await run.onHosts(hosts, async () => {}); // connect first: only the sleeps are timed
    const t = Date.now();
    await run.onHosts(hosts, async (ctx) => { await ctx.run('sleep 1'); });
    run.message('elapsed ' + (Date.now() - t));
  } });
`,
    );
    const time = async (...argv: string[]) => {
      const r = await pgtasks(['--tasks', tasks, '-i', inventory('strict'), ...argv, 'nap']);
      expect(r.code).toBe(0);
      return Number(/elapsed (\d+)/.exec(r.stdout)![1]);
    };
    expect(await time()).toBeLessThan(2500);
    expect(await time('-f', '1')).toBeGreaterThanOrEqual(3000);
  });

  test('strict host-key checking refuses an unknown host, as UNREACHABLE, without stopping the others', async () => {
    const known = join(lab.dir, 'partial_known_hosts');
    writeFileSync(
      known,
      readFileSync(lab.knownHostsFile, 'utf8')
        .split('\n')
        .filter((l) => !l.startsWith(`${lab.hosts[2]!.address} `))
        .join('\n'),
    );
    const r = await pgtasks(['-i', inventory('partial', { ssh_known_hosts_file: known }), 'facts']);
    expect(r.code).toBe(4);
    expect(r.recap.h1).toMatchObject({ ok: 1, unreachable: 0 });
    expect(r.recap.h3).toMatchObject({ ok: 0, unreachable: 1 });
    expect(JSON.stringify(r.events)).toMatch(/no host key for 10\.231\.\d+\.13 in known_hosts/);
  });

  test('a changed host key is refused; accept-new learns new hosts only', async () => {
    const known = join(lab.dir, 'learned_known_hosts');
    writeFileSync(known, '');
    const learn = await pgtasks(['-i', inventory('learn', { ssh_known_hosts_file: known, ssh_host_key_checking: 'accept-new' }), 'facts']);
    expect(learn.code).toBe(0);
    expect(readFileSync(known, 'utf8').trim().split('\n')).toHaveLength(3);
    const forged = readFileSync(lab.knownHostsFile, 'utf8').replace(
      /^(\S+ ssh-ed25519 )\S+/m,
      '$1AAAAC3NzaC1lZDI1NTE5AAAAIBmw9h7Ff6tG8yD8v6OQk2tP1tdzG0ZqGQp2j4bI9m6x',
    );
    writeFileSync(known, forged);
    const r = await pgtasks(['-i', inventory('forged', { ssh_known_hosts_file: known, ssh_host_key_checking: 'accept-new' }), 'facts']);
    expect(r.recap.h1).toMatchObject({ unreachable: 1 });
    expect(JSON.stringify(r.events)).toMatch(/CHANGED/);
  });

  test('a bad inventory touches no host', async () => {
    const before = await Promise.all(lab.hosts.map((h) => accepted(h.name)));
    const bad = join(lab.dir, 'bad.yml');
    writeFileSync(bad, readFileSync(inventory('strict'), 'utf8').replace('ansible_user: root', 'ansible_user: root\n    ansible_port: "x"'));
    const r = await pgtasks(['-i', bad, 'facts']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.yml:\d+: all\.vars\.ansible_port/);
    expect(await Promise.all(lab.hosts.map((h) => accepted(h.name)))).toEqual(before);
  });

  test('service name in /etc/hosts (registry provider hosts): on the chosen hosts only, idempotent', async () => {
    const events: RunEvent[] = [];
    const run = new Run(
      () => loadInventory(inventory('strict')),
      { check: false, diff: false, verbose: false, forks: 5, json: true },
      { emit: (e) => events.push(e) },
    );
    const spec = {
      name: 'c',
      members: [],
      port: 5432,
      syncReplicas: 0,
      serviceName: 'c-db.example',
      registry: { provider: 'hosts' as const, hosts: 'h2:h3' },
      credentialsDir: lab.dir,
    };
    const primary = { host: 'h1', address: lab.hosts[0]!.address, vars: pgVarsSchema.parse({ pg_cluster: 'c' }) };
    try {
      await registerPrimary(run, spec, primary);
      await registerPrimary(run, spec, primary);
    } finally {
      await run.close();
    }
    const steps = events.flatMap((e) => (e.type === 'step' ? [`${e.host} ${e.status}`] : []));
    expect(steps.sort()).toEqual(['h2 changed', 'h2 ok', 'h3 changed', 'h3 ok']);
    for (const h of ['h2', 'h3']) expect((await hostExec(lab, h, 'cat /etc/hosts')).stdout).toContain(`${lab.hosts[0]!.address} c-db.example  # pgtasks:c\n`);
    expect((await hostExec(lab, 'h1', 'cat /etc/hosts')).stdout).not.toContain('c-db.example');
  });

  test('lab down leaves no process, namespace, link or mount behind', async () => {
    const pids = lab.hosts.map((h) => h.pid);
    await labDown(LAB);
    const left = await bash(
      `ip netns list | grep '^${LAB}-' ; ip -o link show | grep -E 'pgtbr|pgt[0-9]+h' | grep -v pgtbr0 ; grep ${lab.dir} /proc/mounts ; for p in ${pids.join(' ')}; do [ -d /proc/$p ] && echo alive $p; done; true`,
    );
    expect(left.stdout.trim()).toBe('');
  });
});
