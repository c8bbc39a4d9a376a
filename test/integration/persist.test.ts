import { randomBytes } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { writeClusterInventory } from '../lab/cluster-inventory.js';
import { hostExec, labDown, type Lab } from '../lab/lab.js';
import { bash } from '../lab/shell.js';
import { spawnPgtasks } from './helpers/cli-process.js';
import { changedSteps, eventually } from './helpers/pgtasks.js';
import { killDuringClone, labWithBuiltCli, throttled } from './helpers/cli-lab.js';
import { labDescribe } from './helpers/lab-describe.js';

/**
 * PGTASKS_PERSIST: runs handed to a persistent pgtasks process that keeps the hosts' SSH connections.
 * What must hold: a re-run reuses the connections (and still reads everything afresh); a killed command
 * stops its run on the hosts as its own death would; an inventory or known_hosts edit is seen at once.
 */
const LAB = 'persist';
const CLUSTER = 'keep';
// A tag of this file's own: its runs get a persistent process of their own (the environment picks it).
const TAG = randomBytes(4).toString('hex');
const ENV = { PGTASKS_PERSIST: '30', PGTASKS_TEST_PERSIST_TAG: TAG };
const HOSTS = ['h1', 'h2', 'h3'];

labDescribe('PGTASKS_PERSIST: a persistent process keeps the SSH connections between runs (real CLI, sshd, PostgreSQL)', () => {
  let lab: Lab;
  let inventory: string;
  const configure = (...extra: string[]) => spawnPgtasks(['-i', inventory, ...extra, 'configure-cluster'], ENV);
  const write = (clusterVars: Record<string, unknown> = {}) =>
    writeClusterInventory(lab, inventory, { cluster: CLUSTER, clusterVars: { pg_pgbouncer: false, ...clusterVars } });
  /** The client ports of the SSH connections each host has open: the same ports, the same connections. */
  const sshPeers = async () =>
    Object.fromEntries(
      await Promise.all(
        HOSTS.map(async (h) => [h, (await hostExec(lab, h, "ss -Htn state established '( sport = :22 )' | awk '{print $4}' | sort")).stdout.trim()]),
      ),
    );
  const running = async (host: string, pattern: string) =>
    (await hostExec(lab, host, `pgrep -f ${pattern} >/dev/null && echo yes || echo no`)).stdout.trim() === 'yes';

  beforeAll(async () => {
    lab = await labWithBuiltCli(LAB, 3);
    inventory = join(lab.dir, 'persist.yml');
    write();
  }, 120_000);

  afterAll(async () => {
    // This file's persistent process, and no other: the one whose environment carries this file's tag.
    await bash(`for f in $(grep -lsz 'PGTASKS_TEST_PERSIST_TAG=${TAG}' /proc/[0-9]*/environ); do p=\${f#/proc/}; kill \${p%/environ}; done; true`);
    await labDown(LAB);
  }, 60_000);

  test('a cold run, then a no-op on the same connections that changes nothing', async () => {
    const cold = await configure().done;
    expect(cold.code, cold.stdout.slice(-2000)).toBe(0);
    const before = await sshPeers();
    for (const h of HOSTS) expect(before[h], `${h} has one connection from the persistent process`).toMatch(/^\S+$/);
    const again = configure();
    const r = await again.done;
    expect(r.code, r.stdout.slice(-2000)).toBe(0);
    expect(changedSteps(again)).toEqual([]);
    // Facts are read afresh each run: one per host, though no new connection was made.
    expect(again.events.filter((e) => e.type === 'step' && e.step === 'facts')).toHaveLength(3);
    expect(await sshPeers()).toEqual(before);
  }, 120_000);

  test('an inventory edit is seen by the next run; a changed known_hosts file means new connections', async () => {
    write({ pg_parameters: { work_mem: '8MB' } });
    const edited = configure();
    expect((await edited.done).code).toBe(0);
    const wrote = changedSteps(edited).filter((c) => c.includes(': config: files: '));
    expect(wrote.map((c) => c.split(':')[0]).sort(), changedSteps(edited).join('\n')).toEqual(HOSTS);
    const before = await sshPeers();
    // The file the host keys were checked against changed: they are checked again, on new connections.
    appendFileSync(join(lab.dir, 'known_hosts'), '# edited\n');
    const next = configure();
    expect((await next.done).code).toBe(0);
    expect(changedSteps(next)).toEqual([]);
    const after = await sshPeers();
    for (const h of HOSTS) expect(after[h]).not.toContain(before[h]!);
    write();
    expect((await configure().done).code).toBe(0);
  }, 120_000);

  test('SIGKILL of the command during a clone: the host stops pg_basebackup and frees the lock; one re-run converges', async () => {
    // h3 loses its data directory, so the run clones it again, slowly (its traffic throttled).
    await hostExec(lab, 'h3', `pg_ctlcluster 15 ${CLUSTER} stop -m immediate; rm -rf /var/lib/postgresql/15/${CLUSTER}`);
    await throttled(LAB, 'h3', async () => {
      // As when the command itself held the connections: the run's processes on the host stop at once.
      await killDuringClone(lab, configure(), 'h3');
      for (const h of HOSTS)
        expect(
          await eventually(
            () => running(h, `'pgtasks-${CLUSTER}.lock'`),
            (v) => !v,
            1500,
          ),
          `${h}: lock holder gone`,
        ).toBe(false);
    });
    const rerun = configure();
    const r = await rerun.done;
    expect(r.code, r.stdout.slice(-3000)).toBe(0);
    expect(rerun.events.some((e) => e.type === 'step' && e.step === 'lock' && /previous run did not finish/.test(e.message ?? ''))).toBe(true);
    const noop = configure();
    expect((await noop.done).code).toBe(0);
    expect(changedSteps(noop)).toEqual([]);
  }, 120_000);

  test('the persistent process itself killed during a clone: the command says so and fails; the host stops the clone; one re-run converges', async () => {
    await hostExec(lab, 'h3', `pg_ctlcluster 15 ${CLUSTER} stop -m immediate; rm -rf /var/lib/postgresql/15/${CLUSTER}`);
    await throttled(LAB, 'h3', async () => {
      const run = configure();
      expect(await run.waitFor((e) => e.type === 'command' && e.host === 'h3' && e.command.includes('pg_basebackup'))).toBeDefined();
      expect(
        await eventually(
          () => running('h3', 'pg_basebacku[p]'),
          (v) => v,
          5000,
        ),
      ).toBe(true);
      // The process, not the command (both carry the tag): the one running persist/main.js.
      await bash(
        `for f in $(grep -lsz 'PGTASKS_TEST_PERSIST_TAG=${TAG}' /proc/[0-9]*/environ); do p=\${f#/proc/}; p=\${p%/environ}; grep -qs persist/main.js /proc/$p/cmdline && kill -KILL $p; done; true`,
      );
      const end = await run.done;
      expect(end.code).toBe(70);
      expect(end.stderr).toMatch(/the persistent pgtasks process ended during the run/);
      // Its connections died with it: the host stops what the run started, as after the command's own death.
      expect(
        await eventually(
          () => running('h3', 'pg_basebackup'),
          (v) => !v,
          1500,
        ),
      ).toBe(false);
    });
    const rerun = configure();
    const r = await rerun.done;
    expect(r.code, r.stdout.slice(-3000)).toBe(0);
    expect(changedSteps(rerun).join('\n')).toMatch(/h3: clone: pg_basebackup from h1/);
    const noop = configure();
    expect((await noop.done).code).toBe(0);
    expect(changedSteps(noop)).toEqual([]);
  }, 120_000);
});
