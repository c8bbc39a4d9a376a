import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.js';
import { isTask, type Task } from '../engine/task.js';
import { TASK_FILE_NAMES } from './task-files.js';

export function findTaskFile(cwd: string, explicit?: string): string | undefined {
  if (explicit) {
    const path = resolve(cwd, explicit);
    if (!existsSync(path)) throw new UserError(`--tasks ${explicit}: no such file`);
    return path;
  }
  return TASK_FILE_NAMES.map((n) => resolve(cwd, n)).find((p) => existsSync(p));
}

/**
 * Loads a team's task file, TypeScript included, at run time. `pgtasks` inside it resolves to this
 * very package, so a task file works from a checkout or an install alike.
 */
export async function loadTaskFile(path: string): Promise<Task[]> {
  const self = fileURLToPath(new URL('../index.js', import.meta.url));
  const index = existsSync(self) ? self : self.replace(/\.js$/, '.ts');
  // Loaded only when a task file exists: it is the heaviest module and most runs need none.
  const { createJiti } = await import('jiti');
  const jiti = createJiti(import.meta.url, { alias: { pgtasks: index }, interopDefault: true, moduleCache: true });
  let mod: Record<string, unknown>;
  try {
    mod = (await jiti.import(path)) as Record<string, unknown>;
  } catch (err) {
    throw new UserError(`${path}: cannot load task file: ${(err as Error).message}`);
  }
  const found: Task[] = [];
  const visit = (value: unknown) => {
    if (isTask(value)) found.push(value);
    else if (Array.isArray(value)) value.forEach(visit);
  };
  Object.values(mod).forEach(visit);
  if (found.length === 0) throw new UserError(`${path}: exports no task (export tasks made with task({...}))`);
  return [...new Set(found)];
}
