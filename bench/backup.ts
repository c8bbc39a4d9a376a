/**
 * Backup and restore throughput (issue 9) on a generated database of about 1 GB (pgbench -i -s 70), on
 * 4 lab hosts: cluster bench (h1 primary, h2 sync replica), repository host h3, cluster copy (h4) to
 * restore into. Prints, in one run:
 *   - pgtasks backup --type full (from the streaming standby h2 into h3's repository, gz + aes-256-cbc as
 *     configured by default): wall time of the command, pgBackRest's own duration, MB/s;
 *   - restore-cluster --cluster bench --latest --into copy: wall time of the whole command (install,
 *     config, grant, restore, recovery, configure-cluster) and of the pgbackrest restore step alone
 *     (from its progress events), MB/s;
 *   - pg_basebackup of the same database (on h2, from h1, over the same lab network), plain (-Fp) and
 *     gzip'd tar (-Ft -z), MB/s.
 * MB/s are the database's size (pg_database_size summed, as pgBackRest's "size") over the time.
 *   npm run build && node dist/bench/backup.js [scale]
 */
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { sql, labConnectionVars } from '../test/lab/cluster-inventory.js';
import { hostExec, labDown, labUp, type Lab } from '../test/lab/lab.js';
import { eventually } from '../test/lab/poll.js';

const bin = fileURLToPath(new URL('../../bin/pgtasks.js', import.meta.url));
const scale = Number(process.argv[2] ?? 70);
const LAB = 'benchbk';
const BACKUP = { provider: 'pgbackrest', repo_host: 'h3', retention_full: 2, schedule: { full: '0 1 * * 0' } };

console.log(`disk before: ${execFileSync('df', ['-h', '/var/tmp'], { encoding: 'utf8' }).trim().split('\n').pop()}`);

interface Timed {
  ms: number;
  stdout: string;
  /** First and last arrival of progress events, by host and step. */
  progress: Map<string, { first: number; last: number; done: number }>;
  /** When the first command (-v) containing `mark` was announced, and when its step reported. */
  span?: { from?: number; to?: number };
}

/** Runs pgtasks --json, timing it and the progress events as they arrive. */
function pgtasks(inventory: string, ...args: string[]): Promise<Timed> {
  return pgtasksSpan(inventory, undefined, ...args);
}

/** The same, with -v: also times one action, from its command event to its step's result. */
function pgtasksSpan(inventory: string, mark: { command: string; step: string } | undefined, ...args: string[]): Promise<Timed> {
  const t = Date.now();
  const progress: Timed['progress'] = new Map();
  const span: NonNullable<Timed['span']> = {};
  let stdout = '';
  let rest = '';
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, '-i', inventory, '--json', ...(mark ? ['-v'] : []), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const lines = (rest + d.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) {
        if (mark && l.startsWith('{')) {
          const e = JSON.parse(l) as { type: string; command?: string; step?: string };
          if (e.type === 'command' && span.from === undefined && e.command?.includes(mark.command)) span.from = Date.now();
          if (e.type === 'step' && e.step === mark.step) span.to = Date.now();
        }
        if (!l.includes('"type":"progress"')) continue;
        const e = JSON.parse(l) as { host: string; step: string; done: number };
        const key = `${e.host} ${e.step}`;
        const p = progress.get(key) ?? { first: Date.now(), last: 0, done: 0 };
        progress.set(key, { ...p, last: Date.now(), done: e.done });
      }
    });
    child.on('close', (code) =>
      code === 0
        ? resolve({ ms: Date.now() - t, stdout, progress, span })
        : reject(new Error(`pgtasks ${args.join(' ')} exited ${code}:\n${stdout.slice(-3000)}`)),
    );
  });
}

async function must(lab: Lab, host: string, cmd: string): Promise<string> {
  const r = await hostExec(lab, host, cmd);
  if (r.code !== 0) throw new Error(`${host}: ${cmd}: ${r.stderr}`);
  return r.stdout;
}

const mb = (bytes: number) => bytes / 1048576;
const rate = (bytes: number, ms: number) => `${(mb(bytes) / (ms / 1000)).toFixed(1)} MB/s`;

const lab = await labUp({ hosts: 4, name: LAB });
try {
  const address = (h: string) => lab.hosts.find((x) => x.name === h)!.address;
  const inventory = join(lab.dir, 'bench.yml');
  const cluster = (name: string, hosts: string[]) => ({
    vars: { pg_cluster: name, pg_sync_replicas: hosts.length > 1 ? 1 : 0, pg_credentials_dir: join(lab.dir, 'credentials'), pg_backup: BACKUP },
    hosts: Object.fromEntries(hosts.map((h) => [h, { ansible_host: address(h) }])),
  });
  const doc = {
    all: {
      vars: labConnectionVars(lab),
      children: { bench: cluster('bench', ['h1', 'h2']), copy: cluster('copy', ['h4']), repo: { hosts: { h3: { ansible_host: address('h3') } } } },
    },
  };
  writeFileSync(inventory, stringify(doc));
  await pgtasks(inventory, 'configure-cluster', '--cluster', 'bench');

  let t = Date.now();
  await must(lab, 'h1', `runuser -u postgres -- /usr/lib/postgresql/15/bin/pgbench -i -q -s ${scale} postgres 2>&1 | tail -1`);
  const size = Number(await sql(lab, 'h1', 'select sum(pg_database_size(oid)) from pg_database'));
  console.log(`generated: pgbench -i -s ${scale}, databases ${mb(size).toFixed(0)} MB in ${((Date.now() - t) / 1000).toFixed(0)} s`);
  // The standby has it all (backup-standby reads from it), and the archive is idle again.
  await eventually(
    () => sql(lab, 'h1', 'select count(*) from pg_stat_replication where replay_lsn = pg_current_wal_lsn()'),
    (v) => v === '1',
    300_000,
  );

  const backup = await pgtasks(inventory, 'backup', '--cluster', 'bench', '--type', 'full');
  const result = JSON.parse(backup.stdout.split('\n').find((l) => l.includes('"type":"result"'))!).data[0] as {
    durationSeconds: number;
    sizeBytes: number;
    repoDeltaBytes: number;
    from: string;
  };
  console.log(
    `pgtasks backup --type full (from the ${result.from}): ${(backup.ms / 1000).toFixed(1)} s for the command, ${result.durationSeconds} s by pgBackRest; ` +
      `${mb(result.sizeBytes).toFixed(0)} MB -> ${mb(result.repoDeltaBytes).toFixed(0)} MB in the repository; ${rate(result.sizeBytes, backup.ms)} (command), ` +
      `${rate(result.sizeBytes, result.durationSeconds * 1000)} (pgBackRest)`,
  );

  const restore = await pgtasksSpan(
    inventory,
    { command: 'pgbackrest --log-level-console=detail', step: 'restore: pgbackrest restore' },
    'restore-cluster',
    '--cluster',
    'bench',
    '--latest',
    '--into',
    'copy',
  );
  const step = restore.progress.get('h4 restore: pgbackrest restore');
  const { from, to } = restore.span ?? {};
  const restored = Number(await sql(lab, 'h4', 'select count(*) from pgbench_accounts'));
  console.log(
    `restore-cluster --latest --into copy: ${(restore.ms / 1000).toFixed(1)} s for the command (${rate(size, restore.ms)}); ` +
      (from && to ? `the pgbackrest restore action ${((to - from) / 1000).toFixed(1)} s (${rate(size, to - from)})` : 'the restore action not timed') +
      (step ? `, ${mb(step.done).toFixed(0)} MB in its progress events` : ', no progress events') +
      `; ${restored} rows in pgbench_accounts`,
  );

  const pass = '/etc/postgresql/15/bench/pgpass';
  for (const [what, args] of [
    ['plain (-Fp)', '-Fp'],
    ['tar, gzip (-Ft -z)', '-Ft -z'],
  ] as const) {
    await must(lab, 'h2', 'rm -rf /var/lib/postgresql/bench-bb');
    t = Date.now();
    await must(
      lab,
      'h2',
      `runuser -u postgres -- env PGPASSFILE=${pass} /usr/lib/postgresql/15/bin/pg_basebackup -h ${address('h1')} -U replicator -w -D /var/lib/postgresql/bench-bb ${args} -X stream -c fast`,
    );
    const ms = Date.now() - t;
    const du = await must(lab, 'h2', 'du -sm /var/lib/postgresql/bench-bb | cut -f1');
    console.log(`pg_basebackup ${what} on h2 from h1: ${(ms / 1000).toFixed(1)} s, ${du.trim()} MB written, ${rate(size, ms)}`);
  }
  await must(lab, 'h2', 'rm -rf /var/lib/postgresql/bench-bb');
} finally {
  await labDown(LAB);
  console.log(`disk after: ${execFileSync('df', ['-h', '/var/tmp'], { encoding: 'utf8' }).trim().split('\n').pop()}`);
}
