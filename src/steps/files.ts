import { createHash } from 'node:crypto';
import { inline, raw, script, sh, type Command } from '../connection/shell.js';
import { putAction, type Action } from '../engine/action.js';
import type { Fact } from '../engine/fact.js';
import { reads, type HostView } from '../engine/host-view.js';
import { change, ok, step, type Step } from '../engine/step.js';

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

/** Reads `S path owner group mode` and `H hash  path` lines into `out` (statFiles' and dirStates' output). */
function parseStates(stdout: string, out: Map<string, RemoteFile>, known: boolean): void {
  for (const line of stdout.split('\n')) {
    if (line.startsWith('M ')) out.set(line.slice(2), { exists: false });
    else if (line.startsWith('S ')) {
      const [owner, group, mode] = line.split(' ').slice(-3);
      const path = line.slice(2, line.length - `${owner} ${group} ${mode}`.length - 1);
      if (!known && !out.has(path)) out.set(path, { exists: true });
      Object.assign(out.get(path) ?? {}, { owner, group, mode: mode!.padStart(4, '0') });
    } else if (line.startsWith('H ')) {
      const [, hash, ...rest] = line.split(' ');
      const path = rest.join(' ').replace(/^ ?\*?/, '');
      Object.assign(out.get(path) ?? {}, { sha256: hash });
    }
  }
}

/** Every regular file directly in some folders, with owner, mode and checksum: what statFiles answers from without a round trip. */
export interface DirStates {
  dirs: Set<string>;
  files: Map<string, RemoteFile>;
}

export const DIR_STATES = 'dir-states';

/**
 * A fact: the files of whole folders (a shell word list, globs allowed), read with the host's other
 * facts in the same round trip, so the roles' files steps of a no-op run need none of their own.
 * The engine drops it with every other fact after a change on the host. A folder this login cannot
 * list is not reported, so its files are asked about one by one, as before.
 */
export function dirStatesFact(dirs: Command): Fact<DirStates> {
  return {
    name: DIR_STATES,
    // One find, one stat and one sha256sum for all the folders' files (a process per file cost 60 ms).
    command: sh`set -- ${inline(dirs)}; for d in "$@"; do [ -d "$d" ] && [ -r "$d" ] && [ -x "$d" ] && echo "D $d"; done
find "$@" -maxdepth 1 -type f -exec stat -c 'S %n %U %G %a' {} + -exec sha256sum {} + 2>/dev/null | sed -E 's/^([0-9a-f]{64} )/H \\1/'; true`,
    parse(output) {
      const files = new Map<string, RemoteFile>();
      parseStates(output, files, false);
      const dirs = new Set(output.split('\n').flatMap((l) => (l.startsWith('D ') ? [l.slice(2)] : [])));
      return { dirs, files };
    },
  };
}

const dirOf = (path: string) => path.slice(0, path.lastIndexOf('/'));

/** One round trip, two processes: owner, mode and checksum of many files (missing ones say so). */
export async function statFiles(ctx: HostView, paths: string[]): Promise<Map<string, RemoteFile>> {
  const known = ctx.facts.get(DIR_STATES) as DirStates | undefined;
  if (known && paths.every((p) => known.dirs.has(dirOf(p)))) {
    return new Map(paths.map((p) => [p, known.files.get(p) ?? { exists: false }]));
  }
  const { stdout } = await ctx.read(
    reads(
      script(
        sh`for f in ${paths}; do [ -f "$f" ] || echo "M $f"; done`,
        sh`stat -c 'S %n %U %G %a' ${paths} 2>/dev/null`,
        sh`sha256sum ${paths} 2>/dev/null | sed 's/^/H /'`,
        raw('true'),
      ),
    ),
  );
  const out = new Map<string, RemoteFile>(paths.map((p) => [p, { exists: true }]));
  parseStates(stdout, out, true);
  return out;
}

/**
 * Let a role look at the files about to change: `planned` may refuse (throw), in check mode too;
 * `before` and `then` add actions before and after the uploads (keep the old files; check the new ones).
 */
export interface FilesHooks {
  planned?(view: HostView, differing: FileSpec[]): Promise<void>;
  /** `existing`: those of `differing` that exist on the host now (new files have nothing to keep). */
  before?(view: HostView, differing: FileSpec[], existing: FileSpec[]): Promise<Action[]>;
  then?(view: HostView, differing: FileSpec[]): Promise<Action[]>;
}

/** The current content of files on the host (those that exist), in one round trip. */
export async function readFiles(view: HostView, paths: string[]): Promise<Map<string, string>> {
  // NUL-separated name and content (text files hold no NUL).
  const { stdout } = await view.read(reads(sh`for f in ${paths}; do if [ -f "$f" ]; then printf 'F%s\\0' "$f"; cat "$f"; printf '\\0'; fi; done`));
  const parts = stdout.split('\0');
  const out = new Map<string, string>();
  for (let i = 0; i + 1 < parts.length; i += 2) out.set(parts[i]!.slice(1), parts[i + 1]!);
  return out;
}

/**
 * Ensures files have exactly this content, owner and mode. Reads all of them in one round trip,
 * uploads only those that differ, and returns whether anything changed (or would, in check mode).
 */
export function filesStep(name: string, files: (view: HostView) => FileSpec[] | Promise<FileSpec[]>, hooks: FilesHooks = {}): Step {
  return step(name, async (ctx) => {
    const specs = await files(ctx);
    const remote = await statFiles(
      ctx,
      specs.map((f) => f.path),
    );
    const differing = specs.filter((f) => {
      const r = remote.get(f.path)!;
      const mode = (f.mode ?? '0644').padStart(4, '0');
      return !r.exists || r.sha256 !== sha256(f.content) || (f.owner && r.owner !== f.owner) || (f.group && r.group !== f.group) || r.mode !== mode;
    });
    if (differing.length === 0) return ok(`${specs.length} file(s) up to date`);
    await hooks.planned?.(ctx, differing);
    let diff = '';
    if (ctx.options.diff) {
      // jsdiff loads only for --diff.
      const { unifiedDiff } = await import('./diff.js');
      const shown = differing.filter((f) => remote.get(f.path)!.exists && !f.secret);
      const before = shown.length
        ? await readFiles(
            ctx,
            shown.map((f) => f.path),
          )
        : new Map<string, string>();
      for (const f of differing) {
        diff += f.secret ? `--- ${f.path}\n+++ ${f.path}\n(secret content changed)\n` : unifiedDiff(f.path, before.get(f.path) ?? '', f.content);
      }
    }
    const before =
      (await hooks.before?.(
        ctx,
        differing,
        differing.filter((f) => remote.get(f.path)!.exists),
      )) ?? [];
    const then = (await hooks.then?.(ctx, differing)) ?? [];
    return change(differing.map((f) => f.path).join(', '), [...before, ...differing.map(putAction), ...then], diff);
  });
}

export { sha256 };
