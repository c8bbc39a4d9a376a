import { expect } from 'vitest';
import type { CliResult } from './pgtasks.js';

export interface ScenarioLab {
  /** pgtasks with the file's inventory. */
  run: (...argv: string[]) => Promise<CliResult>;
  primaryOf: () => Promise<string | undefined>;
  /** Puts the file's inventory back as beforeAll wrote it (a test may have edited it). */
  resetInventory?: () => void;
}

/**
 * The state every scenario of a lab file starts from: the inventory as written in beforeAll, the
 * cluster converged by configure-cluster, `primary` its primary. Called first in each test, so a test
 * can run alone (`vitest -t`) or after any other, whatever that one left (a switched primary, an
 * edited inventory). Cheap when the state is already right: one no-op configure-cluster.
 */
export async function given(lab: ScenarioLab, primary: string): Promise<void> {
  lab.resetInventory?.();
  const converge = await lab.run('configure-cluster');
  expect(converge.code, `given: configure-cluster\n${converge.stdout}`).toBe(0);
  if ((await lab.primaryOf()) === primary) return;
  const move = await lab.run('migrate-to-master', '--target', primary);
  expect(move.code, `given: migrate-to-master --target ${primary}\n${move.stdout}`).toBe(0);
  expect(await lab.primaryOf()).toBe(primary);
}
