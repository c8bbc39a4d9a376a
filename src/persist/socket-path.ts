import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Variables that differ between two commands of one shell session without changing what a run does. */
const VOLATILE = new Set(['_', 'PWD', 'OLDPWD', 'SHLVL', 'COLUMNS', 'LINES']);

/**
 * The folder of this user's persistent processes: $XDG_RUNTIME_DIR or the temp folder, pgtasks-<uid>,
 * mode 0700 and owned by the user. Undefined (no persistence) when it is anything else: another
 * user's socket there could run commands with this user's keys, or read this user's output.
 */
export function persistDir(env: NodeJS.ProcessEnv): string | undefined {
  const uid = process.getuid?.();
  if (uid === undefined) return undefined;
  const dir = join(env.XDG_RUNTIME_DIR || tmpdir(), `pgtasks-${uid}`);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return undefined;
  }
  const st = lstatSync(dir);
  return st.isDirectory() && st.uid === uid && (st.mode & 0o077) === 0 ? dir : undefined;
}

/**
 * One socket per build of pgtasks, node and environment: a process serves only commands it would
 * behave the same for (libraries read defaults from the process environment, e.g. pg's PGSSLMODE),
 * and a rebuilt pgtasks gets a new process instead of the old code.
 */
export function socketPath(dir: string, env: NodeJS.ProcessEnv): string {
  const here = fileURLToPath(new URL('./server.js', import.meta.url));
  // Built (dist/) or run from the sources (tests): the build's time tells one build from the next.
  const build = statSync(existsSync(here) ? here : here.replace(/\.js$/, '.ts')).mtimeMs;
  const hash = createHash('sha256').update(`${process.execPath}\0${process.version}\0${build}\0`);
  for (const key of Object.keys(env)
    .filter((k) => !VOLATILE.has(k))
    .sort())
    hash.update(`${key}=${env[key]}\0`);
  return join(dir, `${hash.digest('hex').slice(0, 16)}.sock`);
}
