/**
 * Issue 11's figures, in one run on one lab of 30 hosts (10 clusters of 3): cold and no-op
 * configure-cluster for one cluster and for all ten, info-list over 30 hosts, Ansible's idempotent
 * re-run of ../shared/peers/ansible/site.yml on the same 3 hosts beside pgtasks' no-op, then the same
 * again with a slow shell start-up file on every host (0.1 s in root's .bashrc, as pyenv or conda
 * cost): in the command itself (PGTASKS_PERSIST=0), with and without the command server
 * (src/connection/command-server.ts), and in the persistent process (src/persist/, the default:
 * connections kept between runs). Cold runs are in the command itself. Prints figures only.
 *   npm run build && node dist/bench/fleet.js [--clusters 10] [--runs 3]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { labConnectionVars } from '../test/lab/cluster-inventory.js';
import { hostExec, labDown, labUp, wipeHost, type Lab } from '../test/lab/lab.js';

const bin = fileURLToPath(new URL('../../bin/pgtasks.js', import.meta.url));
const arg = (name: string, fallback: number) => {
  const at = process.argv.indexOf(name);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
};
const CLUSTERS = arg('--clusters', 10);
const RUNS = arg('--runs', 3);
const LAB = 'fleet';
const peer = fileURLToPath(new URL('../../../shared/peers/ansible', import.meta.url));

const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (s: number) => `${s.toFixed(2)} s`;

function pgtasks(args: string[], env: NodeJS.ProcessEnv = {}): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  const took = seconds(start);
  // info-list exits 1 on a degraded cluster; anything worse is a broken bench, not a figure.
  if (r.status !== 0 && !(args.includes('info-list') && r.status === 1))
    throw new Error(`pgtasks ${args.join(' ')}: exit ${r.status}\n${r.stdout.slice(-2000)}${r.stderr}`);
  return took;
}

/** The machine's busy CPU time so far, in seconds (all cores; /proc/stat: user, nice, system, irq, softirq). */
function busyCpuSeconds(): number {
  const [, user, nice, system, , , irq, softirq] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).map(Number);
  return (user! + nice! + system! + irq! + softirq!) / 100;
}

/** A pgtasks run's wall time and the CPU the whole machine spent meanwhile (hosts, daemons, pgtasks). */
function pgtasksWithCpu(args: string[], env: NodeJS.ProcessEnv = {}): { wall: number; cpu: number } {
  const before = busyCpuSeconds();
  const wall = pgtasks(args, env);
  return { wall, cpu: busyCpuSeconds() - before };
}

function ansible(inventory: string): number {
  const start = process.hrtime.bigint();
  execFileSync('ansible-playbook', ['-i', inventory, join(peer, 'site.yml')], {
    env: { ...process.env, ANSIBLE_CONFIG: join(peer, 'ansible.cfg') },
    stdio: 'ignore',
  });
  return seconds(start);
}

function inventory(lab: Lab, file: string, clusters: number): string {
  const children: Record<string, unknown> = {};
  for (let c = 0; c < clusters; c++) {
    const hosts = lab.hosts.slice(c * 3, c * 3 + 3);
    children[`c${c}`] = {
      vars: {
        pg_cluster: `c${c}`,
        pg_sync_replicas: 1,
        pg_credentials_dir: join(lab.dir, 'credentials'),
        // 30 servers on one 2-core machine: small, and no PgBouncer.
        pg_parameters: { shared_buffers: '16MB', max_connections: 30, max_wal_size: '128MB' },
        pg_pgbouncer: false,
      },
      hosts: Object.fromEntries(hosts.map((h) => [h.name, { ansible_host: h.address }])),
    };
  }
  const doc = {
    all: {
      vars: labConnectionVars(lab),
      children,
    },
  };
  writeFileSync(file, stringify(doc));
  return file;
}

function ansibleInventory(lab: Lab, file: string): string {
  const lines = ['[c0]', ...lab.hosts.slice(0, 3).map((h) => `${h.name} ansible_host=${h.address}`), '[c0:vars]'];
  lines.push(`ansible_user=root`, `ansible_ssh_private_key_file=${lab.privateKeyFile}`, 'ansible_python_interpreter=/usr/bin/python3');
  lines.push('postgres_version=15', 'postgres_cluster=c0');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

async function slowShell(lab: Lab, on: boolean): Promise<void> {
  await Promise.all(lab.hosts.map((h) => hostExec(lab, h.name, on ? "printf 'sleep 0.1\\n' > /root/.bashrc" : 'rm -f /root/.bashrc')));
}

const lab = await labUp({ hosts: CLUSTERS * 3, name: LAB });
try {
  const all = inventory(lab, join(lab.dir, 'fleet.yml'), CLUSTERS);
  const peerInventory = ansibleInventory(lab, join(lab.dir, 'ansible.ini'));
  const c0 = ['-i', all, 'configure-cluster', '--cluster', 'c0'];
  // In the command itself (no persistent process), with and without the command server on each host.
  const withServer = { PGTASKS_COMMAND_SERVER: '1', PGTASKS_PERSIST: '0' };
  const without = { PGTASKS_COMMAND_SERVER: '0', PGTASKS_PERSIST: '0' };
  // A persistent process of the bench's own (the tag keeps it apart from any other), stopped at the end.
  const persist = { PGTASKS_COMMAND_SERVER: '1', PGTASKS_PERSIST: '120', PGTASKS_BENCH_TAG: `fleet-${process.pid}` };
  console.log(`fleet bench: ${CLUSTERS} clusters of 3 on ${lab.hosts.length} lab hosts (${execFileSync('nproc').toString().trim()} cores)`);

  // Cold, one cluster: then its hosts are wiped, and all clusters are made at once.
  const cores = Number(execFileSync('nproc').toString().trim());
  const { wall: cold3, cpu: cpu3 } = pgtasksWithCpu(c0, withServer);
  await Promise.all(
    lab.hosts.slice(0, 3).map(async (h) => {
      await hostExec(lab, h.name, 'pg_ctlcluster 15 c0 stop -m immediate || true');
      await wipeHost(lab, h.name);
    }),
  );
  const { wall: coldAll, cpu: cpuAll } = pgtasksWithCpu(['-i', all, 'configure-cluster'], withServer);
  console.log(`  cold configure-cluster, 3 hosts:                 ${fmt(cold3)}  (the machine's CPU meanwhile: ${cpu3.toFixed(1)} CPU-s)`);
  console.log(`  cold configure-cluster, ${CLUSTERS} clusters × 3 hosts:  ${fmt(coldAll)}  (${(coldAll / cold3).toFixed(1)}× the 3-host cold run)`);
  // On one machine the lab's 30 hosts share its cores: a cold fleet run cannot end before the CPU it
  // needs (initdb, pg_basebackup, server starts, sshd, pgtasks) has run on them.
  console.log(
    `    CPU: ${cpuAll.toFixed(1)} CPU-s (${(cpuAll / CLUSTERS).toFixed(2)} a cluster); on ${cores} cores no run can take less than ${fmt(cpuAll / cores)}: ` +
      `the cores were ${((100 * cpuAll) / cores / coldAll).toFixed(0)}% busy`,
  );

  if (existsSync(join(peer, 'site.yml'))) ansible(peerInventory); // converge the peer's own files once
  for (const slow of [false, true]) {
    await slowShell(lab, slow);
    const label = slow ? 'hosts with a 0.1 s .bashrc' : 'clean hosts';
    for (const [name, env] of [
      ['in the command, command server', withServer],
      ['in the command, an exec per command', without],
      ['persistent process (the default: connections kept between runs)', persist],
    ] as const) {
      const noop3: number[] = [];
      const noopAll: number[] = [];
      const info: number[] = [];
      if (env === persist) {
        // The first run starts the process and opens every connection; the figures below are the runs after it.
        const first = pgtasks(['-i', all, 'configure-cluster'], env);
        console.log(`  ${label}, ${name}: first run (starts the process, opens 30 connections) ${fmt(first)}`);
      }
      for (let i = 0; i < RUNS; i++) {
        noop3.push(pgtasks(c0, env));
        noopAll.push(pgtasks(['-i', all, 'configure-cluster'], env));
        info.push(pgtasks(['-i', all, 'info-list'], env));
      }
      console.log(`  ${label}, ${name}:`);
      console.log(`    no-op configure-cluster, 3 hosts:              ${fmt(median(noop3))}`);
      console.log(`    no-op configure-cluster, ${CLUSTERS} × 3 hosts:         ${fmt(median(noopAll))}`);
      console.log(`    info-list, ${lab.hosts.length} hosts:                          ${fmt(median(info))}`);
    }
    // Ansible beside pgtasks on the same 3 hosts, alternating.
    const peerRuns: number[] = [];
    const ours: number[] = [];
    const oursKept: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      peerRuns.push(ansible(peerInventory));
      ours.push(pgtasks(c0, withServer));
      oursKept.push(pgtasks(c0, persist));
    }
    const times = (x: number) => `${(median(peerRuns) / x).toFixed(0)}×`;
    console.log(
      `    Ansible's idempotent re-run (site.yml), 3 hosts: ${fmt(median(peerRuns))}; pgtasks no-op in the command ${fmt(median(ours))}: ${times(median(ours))} faster; ` +
        `with its persistent process (the default) ${fmt(median(oursKept))}: ${times(median(oursKept))} faster`,
    );
  }
  // Where a no-op run's time goes: process start, then one round trip of facts per host.
  const start = median(Array.from({ length: RUNS }, () => pgtasks(['--version'], { PGTASKS_PERSIST: '0' })));
  const facts = median(Array.from({ length: RUNS }, () => pgtasks(['-i', all, 'facts', '-l', 'c0'], withServer)));
  console.log(`  profile (clean hosts): node start + CLI ${fmt(start)}; facts on 3 hosts (start, SSH handshakes, one round trip) ${fmt(facts)}`);
} finally {
  await slowShell(lab, false).catch(() => {});
  // The bench's persistent process (found by its tag), before its hosts go.
  spawnSync('bash', [
    '-c',
    `for f in $(grep -lsz 'PGTASKS_BENCH_TAG=fleet-${process.pid}' /proc/[0-9]*/environ); do p=\${f#/proc/}; kill \${p%/environ}; done`,
  ]);
  await labDown(LAB);
}
