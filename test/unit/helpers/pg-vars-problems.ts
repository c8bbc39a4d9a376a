import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { pgVarProblems } from '../../../src/cluster/value-problems.js';
import { UserError } from '../../../src/errors.js';
import { InventoryProblems, loadInventory } from '../../../src/inventory/index.js';
import { tree as treeIn } from './tree.js';

/** The pg_* variables' fixture inventories (test/fixtures/pg-vars/). */
export const fixtures = fileURLToPath(new URL('../../fixtures/pg-vars/', import.meta.url));

export const tree = (files: Record<string, string>) => treeIn(files, 'pgtasks-pgvars-');

/** The problem lines of a bad inventory, with the fixture folder cut off. */
export async function problems(path: string, base = fixtures): Promise<string[]> {
  const err = await loadInventory(path).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InventoryProblems);
  expect(err).toBeInstanceOf(UserError);
  expect((err as UserError).exitCode).toBe(2);
  return (err as InventoryProblems).problems.map((l) => l.split(base).join(''));
}

/** A value's problems as "path: message" lines. */
export const messages = (name: string, value: unknown) => pgVarProblems(name, value).map((p) => `${p.path.join('.')}: ${p.message}`);
