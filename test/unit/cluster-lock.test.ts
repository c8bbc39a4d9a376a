import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { LocalConnection } from '../../src/connection/local.js';
import type { HeldCommand } from '../../src/connection/types.js';
import { sh } from '../../src/connection/shell.js';
import { holderScript, parseLockReply, probeScript, splitReadAfterLock, type Holder, type LockReply } from '../../src/cluster/lock-script.js';
import { waitFor } from '../lab/poll.js';

describe('parseLockReply', () => {
  test('held: the holder, once the script has ended', () => {
    const out = '@@held\nuser=alice\nhost=ctl1\npid=42\ntask=configure-cluster\nsince=2025-01-01T00:00:00Z\nrun=ab12\n';
    expect(parseLockReply(out, false)).toEqual({ state: 'incomplete' });
    expect(parseLockReply(out, true)).toEqual({
      state: 'held',
      holder: { user: 'alice', host: 'ctl1', pid: 42, task: 'configure-cluster', since: '2025-01-01T00:00:00Z', run: 'ab12' },
    });
  });
  test('locked after a dead run: who it was, what was stopped and removed', () => {
    const out =
      '@@stale\n@@was user=bob\n@@was host=ctl2\n@@was pid=7\n@@was task=failover\n@@was since=x\n@@was run=cd\n@@stopped 99 pg_basebackup -D x\n@@removed /var/lib/postgresql/15/demo.pgtasks-clone\n@@locked\n';
    const r = parseLockReply(out, false);
    expect(r).toMatchObject({
      state: 'locked',
      stale: { user: 'bob', host: 'ctl2', pid: 7, task: 'failover' },
      stopped: ['99 pg_basebackup -D x'],
      removed: ['/var/lib/postgresql/15/demo.pgtasks-clone'],
      kept: [],
    });
  });
  test('a plain lock, and an unfinished reply', () => {
    expect(parseLockReply('@@locked\n', false)).toEqual({
      state: 'locked',
      stale: undefined,
      stopped: [],
      stoppedAtDeath: [],
      removed: [],
      kept: [],
      alive: undefined,
    });
    expect(parseLockReply('@@stale\n@@was user=x\n', false)).toEqual({ state: 'incomplete' });
  });
});

describe('splitReadAfterLock', () => {
  test('no read asked for: all of it is the lock reply', () => {
    expect(splitReadAfterLock('@@locked\n')).toEqual({ lock: '@@locked\n' });
  });
  test('the read: its output whole (a last line without a newline too), its exit status, and only its own end marker ends it', () => {
    const out = '@@locked\n@@read-begin 0a1b\nfacts\n@@read-end ffff 0\nlast\n@@read-end 0a1b 3\n';
    expect(splitReadAfterLock(out)).toEqual({ lock: '@@locked\n', read: { code: 3, stdout: 'facts\n@@read-end ffff 0\nlast' } });
    expect(splitReadAfterLock('@@locked\n@@read-begin 0a1b\n\n@@read-end 0a1b 0\n').read).toEqual({ code: 0, stdout: '' });
  });
  test('a read not ended yet: the lock lines only, no read', () => {
    expect(splitReadAfterLock('@@locked\n@@read-begin 0a1b\nfacts so f')).toEqual({ lock: '@@locked\n' });
  });
});

/** The host side for real: bash, flock and /proc on this machine, in a temp folder instead of /var/lib/postgresql. */
describe('the lock scripts, run locally', () => {
  const base = mkdtempSync(join(tmpdir(), 'pgtasks-lock-'));
  // A cluster name no other process on this machine carries in PGTASKS_RUN.
  const cluster = `unit${process.pid}`;
  const local = new LocalConnection('local');
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    rmSync(base, { recursive: true, force: true });
  });

  const holder = (run: string, task = 'configure-cluster'): Holder => ({ user: 'tester', host: 'ctl', pid: 1234, task, since: '2025-01-01T00:00:00Z', run });
  async function take(run: string, leaseSeconds = 30): Promise<{ cmd: HeldCommand; reply: LockReply }> {
    const cmd = await local.start(holderScript({ cluster, base, holder: holder(run), leaseSeconds }));
    for (;;) {
      const done = await Promise.race([cmd.exited.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 20))]);
      const reply = parseLockReply(cmd.stdout, done);
      if (reply.state !== 'incomplete' || done) return { cmd, reply };
    }
  }
  /** A stand-in for pg_basebackup started by run `run`: tagged as pgtasks tags its long commands. */
  function longCommand(run: string): ChildProcess {
    const c = spawn('sleep', ['300'], { env: { ...process.env, PGTASKS_RUN: `${cluster}/${run}` }, stdio: 'ignore' });
    children.push(c);
    return c;
  }
  const gone = (c: ChildProcess) =>
    new Promise<boolean>((resolve) => (c.exitCode !== null || c.signalCode ? resolve(true) : c.once('exit', () => resolve(true))));
  const runFile = join(base, `.pgtasks-${cluster}.run`);

  test('a second holder is refused and told who holds it; a release frees it without a trace', async () => {
    const a = await take('aaaa01');
    expect(a.reply.state).toBe('locked');
    expect(readFileSync(runFile, 'utf8')).toContain('task=configure-cluster');
    const b = await take('bbbb02');
    expect(b.reply).toEqual({ state: 'held', holder: holder('aaaa01') });
    expect((await a.cmd.end('release\n')).code).toBe(0);
    expect(readFileSync(runFile, 'utf8')).toBe(''); // emptied: nobody holds it, and nobody died holding it
    const c = await take('cccc03');
    expect(c.reply).toMatchObject({ state: 'locked', stale: undefined, stopped: [], removed: [] });
    await c.cmd.end('release\n');
  });

  test('a run that dies: its holder frees the lock and stops its long commands; the next run is told and cleans up', async () => {
    const a = await take('dddd04');
    const started = longCommand('dddd04');
    a.cmd.end(); // stdin closes without "release": what a killed pgtasks or a dropped connection looks like
    await a.cmd.exited;
    expect(await gone(started)).toBe(true);
    expect(readFileSync(runFile, 'utf8')).toContain('run=dddd04');

    // What a holder killed along with its host's sshd would leave: a live tagged process and a side directory.
    const orphan = longCommand('dddd04');
    mkdirSync(join(base, '15', `${cluster}.pgtasks-clone`), { recursive: true });
    writeFileSync(join(base, '15', `${cluster}.pgtasks-clone`, 'PG_VERSION'), '15\n');
    mkdirSync(join(base, '15', cluster), { recursive: true }); // the data directory itself is never touched
    await waitFor(`the orphan (pid ${orphan.pid}) running sleep`, () => readFileSync(`/proc/${orphan.pid}/cmdline`, 'utf8').startsWith('sleep\0'));

    const probe = parseLockReply((await local.run(probeScript({ cluster, base }))).stdout, true);
    expect(probe).toMatchObject({ state: 'free', stale: { run: 'dddd04' }, removed: [join(base, '15', `${cluster}.pgtasks-clone`)] });
    expect(probe.state === 'free' && probe.stopped[0]).toMatch(/^\d+ sleep 300/);
    expect(orphan.exitCode).toBe(null); // --check stops nothing

    const b = await take('eeee05');
    expect(b.reply).toMatchObject({
      state: 'locked',
      stale: { run: 'dddd04', task: 'configure-cluster' },
      removed: [join(base, '15', `${cluster}.pgtasks-clone`)],
    });
    expect(b.reply.state === 'locked' && b.reply.stopped[0]).toMatch(new RegExp(`^${orphan.pid} sleep 300`));
    // What the dead run's holder stopped when the run went is told too.
    expect(b.reply.state === 'locked' && b.reply.stoppedAtDeath[0]).toMatch(new RegExp(`^${started.pid} sleep 300`));
    expect(await gone(orphan)).toBe(true);
    expect(existsSync(join(base, '15', `${cluster}.pgtasks-clone`))).toBe(false);
    expect(existsSync(join(base, '15', cluster))).toBe(true);
    await b.cmd.end('release\n');
  });

  test('a run that dies while its command forks (pg_basebackup starting its WAL streamer): every tagged process is stopped, forked children too', async () => {
    const tag = `${cluster}/fork10`;
    const tagged = () =>
      readdirSync('/proc')
        .filter((p) => /^\d+$/.test(p))
        .filter((p) => {
          try {
            return readFileSync(`/proc/${p}/environ`, 'utf8').split('\0').includes(`PGTASKS_RUN=${tag}`);
          } catch {
            return false;
          }
        });
    const a = await take('fork10');
    // Forks a tagged child every 2 ms: a stop that kills only what it saw once leaves the ones forked in between.
    const forker = spawn('bash', ['-c', 'while :; do sleep 300 & sleep 0.002; done'], { env: { ...process.env, PGTASKS_RUN: tag }, stdio: 'ignore' });
    children.push(forker);
    await waitFor('the forker has children', () => tagged().length > 5);
    a.cmd.end();
    await a.cmd.exited;
    expect(await gone(forker)).toBe(true);
    expect(tagged()).toEqual([]);
  });

  test('a clean release answers first, then stops what its run left running (a command whose channel timed out)', async () => {
    const a = await take('abcd09');
    const straggler = longCommand('abcd09');
    const other = longCommand('0ther0'); // another run's: not this release's business
    a.cmd.write('release\n');
    await a.cmd.end();
    expect(a.cmd.stdout).toContain('@@released');
    expect(await gone(straggler)).toBe(true);
    expect(other.exitCode).toBe(null);
    other.kill('SIGKILL');
  });

  test('a side directory a server runs on is left alone', async () => {
    const side = join(base, '15', `${cluster}.pgtasks-initdb`);
    mkdirSync(side, { recursive: true });
    writeFileSync(join(side, 'postmaster.pid'), `${process.pid}\n`);
    const a = await take('ffff06');
    expect(a.reply).toMatchObject({ state: 'locked', removed: [], kept: [side] });
    await a.cmd.end('release\n');
    rmSync(side, { recursive: true });
  });

  test('without a heartbeat the lease ends the lock by itself', async () => {
    const a = await take('aaaa07', 1);
    expect(a.reply.state).toBe('locked');
    const r = await a.cmd.exited;
    expect(r.code).toBe(0);
    const b = await take('bbbb08');
    expect(b.reply).toMatchObject({ state: 'locked', stale: { run: 'aaaa07' } });
    await b.cmd.end('release\n');
  });

  test("a read after the lock runs once it is taken, without the lock descriptor or the holder's stdin; a held lock runs none", async () => {
    // The read's children must not keep the lock (fd 9) or eat the run's pings and release (stdin).
    const thenRead = sh`ls -l /proc/self/fd/ | grep -c ' 9 -> ' || true; cat; printf 'no newline'; exit 3`;
    const cmd = await local.start(holderScript({ cluster, base, holder: holder('dddd04'), leaseSeconds: 30, thenRead }));
    await waitFor('the read after the lock', () => splitReadAfterLock(cmd.stdout).read, 5000);
    const { lock, read } = splitReadAfterLock(cmd.stdout);
    expect(parseLockReply(lock, false).state).toBe('locked');
    expect(read).toEqual({ code: 3, stdout: '0\nno newline' });
    const refused = await local.run(holderScript({ cluster, base, holder: holder('eeee05'), leaseSeconds: 30, thenRead }));
    expect(refused.stdout).not.toContain('@@read-begin');
    expect(parseLockReply(refused.stdout, true).state).toBe('held');
    expect((await cmd.end('release\n')).stdout).toContain('@@released');
    // --check: the probe reads after finding the lock free.
    const probe = await local.run(probeScript({ cluster, base, thenRead: sh`echo facts` }));
    expect(parseLockReply(splitReadAfterLock(probe.stdout).lock, true).state).toBe('free');
    expect(splitReadAfterLock(probe.stdout).read).toEqual({ code: 0, stdout: 'facts\n' });
  });

  test('--check with no lock file creates none and finds nothing', async () => {
    const other = `${cluster}x`;
    const r = parseLockReply((await local.run(probeScript({ cluster: other, base }))).stdout, true);
    expect(r).toEqual({ state: 'free', stale: undefined, stopped: [], stoppedAtDeath: [], removed: [], kept: [], alive: undefined });
    expect(existsSync(join(base, `.pgtasks-${other}.lock`))).toBe(false);
  });
});
