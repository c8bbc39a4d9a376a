import { execFile } from 'node:child_process';

export interface LocalResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program on the machine running pgtasks (argv, no shell), with optional stdin, in `env` (the run's: RunIO.env). */
export function localExec(file: string, args: string[], opts: { stdin?: string; env: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<LocalResult> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { env: opts.env, timeout: opts.timeoutMs ?? 30_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException & { code?: unknown }).code === 'number' ? (err as unknown as { code: number }).code : 127) : 0;
      resolve({ code, stdout, stderr: stderr || (err && code === 127 ? err.message : '') });
    });
    child.stdin?.on('error', () => {});
    child.stdin?.end(opts.stdin ?? '');
  });
}
