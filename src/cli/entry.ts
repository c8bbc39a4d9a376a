import { readFileSync } from 'node:fs';
import { builtinTasks } from '../../tasks/index.js';
import { main, type ProgramIO } from './program.js';

function packageVersion(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      return (JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      /* try the next layout: running from src/ (tests) or from dist/src/ (installed) */
    }
  }
  return 'unknown';
}

/** The real process's side of the CLI; tests call main() with their own io. */
export function cli(argv: string[], io: Partial<ProgramIO> = {}): Promise<number> {
  return main(
    argv,
    {
      stdout: (t) => process.stdout.write(t),
      stderr: (t) => process.stderr.write(t),
      isTTY: !!process.stdout.isTTY,
      columns: process.stdout.isTTY ? process.stdout.columns : undefined,
      env: process.env,
      cwd: process.cwd(),
      ...io,
    },
    builtinTasks,
    packageVersion(),
  );
}
