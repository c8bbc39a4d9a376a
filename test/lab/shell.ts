import { spawn } from 'node:child_process';

export interface ShellResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a bash script on this machine (the lab's own plumbing: ip, unshare, nsenter). */
export function bash(script: string, input?: string): Promise<ShellResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
  });
}

/** Like bash(), but a non-zero exit is an error carrying stderr. */
export async function must(script: string): Promise<string> {
  const r = await bash(script);
  if (r.code !== 0) throw new Error(`lab command failed (exit ${r.code}): ${script.split('\n')[0]}\n${r.stderr.trim()}`);
  return r.stdout;
}
