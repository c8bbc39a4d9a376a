import { createHash } from 'node:crypto';
import { quote } from '../connection/shell.js';
import type { HostContext } from '../engine/host-context.js';
import { change, ok, step, type Step } from '../engine/step.js';
import { unifiedDiff } from './diff.js';

export interface FileSpec {
  path: string;
  content: string;
  owner?: string;
  group?: string;
  mode?: string;
  /** Never show content (passwords): the diff says only that the file changed. */
  secret?: boolean;
}

interface RemoteFile {
  exists: boolean;
  sha256?: string;
  owner?: string;
  group?: string;
  mode?: string;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** One round trip reads checksum, owner and mode of many files. */
export async function statFiles(ctx: HostContext, paths: string[]): Promise<Map<string, RemoteFile>> {
  const script = paths
    .map((p) => `if [ -f ${quote(p)} ]; then echo "F $(stat -c '%U %G %a' ${quote(p)}) $(sha256sum < ${quote(p)} | cut -d' ' -f1)"; else echo M; fi`)
    .join('\n');
  const { stdout } = await ctx.run(script);
  const lines = stdout.trim().split('\n');
  const out = new Map<string, RemoteFile>();
  paths.forEach((p, i) => {
    const f = (lines[i] ?? 'M').split(' ');
    out.set(p, f[0] === 'F' ? { exists: true, owner: f[1], group: f[2], mode: f[3]!.padStart(4, '0'), sha256: f[4] } : { exists: false });
  });
  return out;
}

/**
 * Ensures files have exactly this content, owner and mode. Reads all of them in one round trip,
 * uploads only those that differ, and returns whether anything changed (or would, in check mode).
 */
export function filesStep(name: string, files: (ctx: HostContext) => FileSpec[] | Promise<FileSpec[]>): Step {
  return step(name, async (ctx) => {
    const specs = await files(ctx);
    const remote = await statFiles(ctx, specs.map((f) => f.path));
    const differing = specs.filter((f) => {
      const r = remote.get(f.path)!;
      const mode = (f.mode ?? '0644').padStart(4, '0');
      return !r.exists || r.sha256 !== sha256(f.content) || (f.owner && r.owner !== f.owner) || (f.group && r.group !== f.group) || r.mode !== mode;
    });
    if (differing.length === 0) return ok(`${specs.length} file(s) up to date`);
    let diff = '';
    if (ctx.options.diff) {
      for (const f of differing) {
        const before = remote.get(f.path)!.exists && !f.secret ? (await ctx.run(`cat ${quote(f.path)}`)).stdout : '';
        diff += f.secret ? `--- ${f.path}\n+++ ${f.path}\n(secret content changed)\n` : unifiedDiff(f.path, before, f.content);
      }
    }
    return change(
      differing.map((f) => f.path).join(', '),
      async () => {
        for (const f of differing) await ctx.put(f.path, f.content, { owner: f.owner, group: f.group, mode: f.mode ?? '0644' });
      },
      diff,
    );
  });
}

export { sha256 };
