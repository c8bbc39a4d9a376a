/**
 * Times configure-cluster on 3 lab hosts: the cold run (install check, initdb, 2 clones, DNS) and
 * idempotent no-op re-runs, through the real CLI process (startup included). Prints figures only.
 *   npm run build && node dist/bench/configure-cluster.js [runs]
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBind } from '../test/lab/bind.js';
import { writeClusterInventory } from '../test/lab/cluster-inventory.js';
import { labDown, labUp } from '../test/lab/lab.js';

const bin = fileURLToPath(new URL('../../bin/pgtasks.js', import.meta.url));
const runs = Number(process.argv[2] ?? 5);

function time(args: string[]): number {
  const start = process.hrtime.bigint();
  execFileSync(process.execPath, [bin, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
  return Number(process.hrtime.bigint() - start) / 1e9;
}

const lab = await labUp({ hosts: 3, name: 'bench' });
const bind = await startBind({ port: 15356, dir: join(lab.dir, 'bind') });
try {
  const inventory = join(lab.dir, 'bench.yml');
  writeClusterInventory(lab, inventory, {
    cluster: 'bench',
    serviceName: 'bench-db.lab.pgtasks.test',
    registry: { provider: 'dns', server: '127.0.0.1', port: bind.port, zone: bind.zone, key_file: bind.keyFile },
  });
  const cold = time(['-i', inventory, 'configure-cluster']);
  const noop = Array.from({ length: runs }, () => time(['-i', inventory, 'configure-cluster']));
  const facts = Array.from({ length: runs }, () => time(['-i', inventory, 'facts']));
  const version = Array.from({ length: runs }, () => time(['--version']));
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const fmt = (s: number) => `${s.toFixed(3)} s`;
  console.log(`configure-cluster on 3 lab hosts (PostgreSQL ${execFileSync('sh', ['-c', 'ls /usr/lib/postgresql | sort -n | tail -1']).toString().trim()})`);
  console.log(`  cold (bootstrap + 2 replicas + DNS):  ${fmt(cold)}`);
  console.log(`  no-op re-run, median of ${runs}:          ${fmt(median(noop))}   (min ${fmt(Math.min(...noop))}, max ${fmt(Math.max(...noop))})`);
  console.log(`  facts, median of ${runs}:                 ${fmt(median(facts))}`);
  console.log(`  process start (--version), median:    ${fmt(median(version))}`);
} finally {
  await bind.stop();
  await labDown('bench');
}
