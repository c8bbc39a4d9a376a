import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import { hostExec, labUp, type Lab } from '../../lab/lab.js';
import { labLayout } from '../../lab/layout.js';
import { must } from '../../lab/shell.js';
import type { CliRun } from './cli-process.js';
import { eventually } from './pgtasks.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));

/** A lab for tests that run the built CLI (dist/): built beside the lab coming up, so it runs the code under test. */
export async function labWithBuiltCli(name: string, hosts: number): Promise<Lab> {
  const build = promisify(execFile)('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: repo });
  const lab = await labUp({ hosts, name });
  await build;
  return lab;
}

/**
 * Traffic into `host` slowed to 5 MB/s (on its bridge port) while `fn` runs, so a clone takes
 * seconds: a pg_basebackup gone right after a kill is one that was stopped, not one that had finished.
 */
export async function throttled<T>(labName: string, host: string, fn: () => Promise<T>): Promise<T> {
  const veth = labLayout(labName).veth(Number(host.slice(1)));
  await must(`tc qdisc replace dev ${veth} root tbf rate 40mbit burst 64kb latency 500ms`);
  try {
    return await fn();
  } finally {
    await must(`tc qdisc del dev ${veth} root`);
  }
}

/** Kills `run` once pg_basebackup runs on `host`; the host must stop it at once (within 1.5 s), not after it finished. */
export async function killDuringClone(lab: Lab, run: CliRun, host: string): Promise<void> {
  const cloning = async () => (await hostExec(lab, host, 'pgrep -x pg_basebackup >/dev/null && echo yes || echo no')).stdout.trim() === 'yes';
  expect(await run.waitFor((e) => e.type === 'command' && e.host === host && e.command.includes('pg_basebackup'))).toBeDefined();
  expect(await eventually(cloning, (v) => v, 5000)).toBe(true);
  run.kill();
  expect((await run.done).signal).toBe('SIGKILL');
  expect(await eventually(cloning, (v) => !v, 1500)).toBe(false);
}
