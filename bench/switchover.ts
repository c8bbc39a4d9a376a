/**
 * Switchovers, then a failover, under client load through PgBouncer, on 3 lab hosts: prints failed
 * client attempts, the longest gap between two committed writes, how long PgBouncer held clients,
 * and for the failover the write outage (primary host killed -> first write committed again).
 *   npm run build && node dist/bench/switchover.js [switchovers]
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeClusterInventory } from '../test/lab/cluster-inventory.js';
import { hostExec, labDown, labUp, stopHost } from '../test/lab/lab.js';
import { startLoad } from '../test/lab/load.js';

const bin = fileURLToPath(new URL('../../bin/pgtasks.js', import.meta.url));
const rounds = Number(process.argv[2] ?? 2);
const lab = await labUp({ hosts: 3, name: 'benchsw' });
try {
  const inventory = join(lab.dir, 'bench.yml');
  writeClusterInventory(lab, inventory, { cluster: 'bench' });
  const pgtasks = (...args: string[]) => execFileSync(process.execPath, [bin, '-i', inventory, ...args], { encoding: 'utf8' });
  pgtasks('configure-cluster');
  await hostExec(lab, 'h1', `runuser -u postgres -- psql -qc 'create table load (id int primary key, at timestamptz default now())'`);
  const password = readFileSync(join(lab.dir, 'credentials', 'bench', 'admin.password'), 'utf8').trim();
  let to = 'h2';
  console.log('switchover under load (fresh connections + one persistent connection, through PgBouncer on h3)');
  for (let i = 0; i < rounds; i++) {
    const load = startLoad(lab.hosts[2]!.address, 6432, password);
    await new Promise((r) => setTimeout(r, 1000));
    // Asynchronously: the load runs in this process and must keep going while pgtasks works.
    const { stdout: out } = await promisify(execFile)(process.execPath, [bin, '-i', inventory, '--json', 'migrate-to-master', '--target', to], {
      encoding: 'utf8',
    });
    await new Promise((r) => setTimeout(r, 1000));
    const result = await load.stop();
    const timings =
      out
        .split('\n')
        .filter((l) => l.includes('"type":"result"'))
        .map((l) => JSON.parse(l).data.timings)[0] ?? {};
    console.log(
      `  -> ${to}: attempts ${result.attempts}, failed ${result.failures.length}, longest write gap ${result.longestGapMs} ms, clients paused ${timings.clientsPaused} ms (stop ${timings.stop}, catch-up ${timings.catchup}, promote ${timings.promote}, repoint ${timings.repoint}), total ${timings.total} ms`,
    );
    to = to === 'h2' ? 'h1' : 'h2';
  }
  // Failover: the primary's host dies while clients write through PgBouncer on h3.
  const primary = to === 'h2' ? 'h1' : 'h2';
  const load = startLoad(lab.hosts[2]!.address, 6432, password, 60_000);
  await new Promise((r) => setTimeout(r, 1000));
  const killedAt = Date.now();
  await stopHost(lab, primary);
  const failoverAt = Date.now();
  const { stdout: fout } = await promisify(execFile)(process.execPath, [bin, '-i', inventory, '--json', 'failover', '--yes'], { encoding: 'utf8' }).catch(
    (e: { stdout: string }) => ({ stdout: e.stdout }),
  );
  await new Promise((r) => setTimeout(r, 1000));
  const failed = await load.stop();
  // Commits acknowledged while the host was being killed still count as before; the outage is the
  // gap around the failover's start.
  const lastBefore = Math.max(killedAt, ...failed.commitTimes.filter((t) => t <= failoverAt));
  const back = failed.commitTimes.find((t) => t > failoverAt);
  const released = fout
    .split('\n')
    .filter((l) => l.includes('"task":"failover"') && l.includes('"type":"result"'))
    .map((l) => JSON.parse(l).data.writesBackMs)[0];
  console.log(
    `failover after ${primary} died: writes back ${back ? back - failoverAt : 'n/a'} ms after 'failover --yes' started (no write for ${back ? back - lastBefore : 'n/a'} ms), PgBouncer released ${released} ms after the start; failed attempts ${failed.failures.length} (against the dead primary)`,
  );
  console.log(
    `PostgreSQL: ${execFileSync('sh', ['-c', 'ls /usr/lib/postgresql | sort -n | tail -1']).toString().trim()}, PgBouncer: ${execFileSync('pgbouncer', ['--version']).toString().split('\n')[0]}`,
  );
} finally {
  await labDown('benchsw');
}
