import { raw, script, sh, type Command } from './shell.js';
import type { PutOptions } from './types.js';

/**
 * The remote half of an atomic upload: content arrives on stdin into a temp file beside the target
 * (same filesystem, so the rename is atomic), gets its owner and mode, then replaces the target.
 * umask 077 keeps the temp file private even before chmod, which matters for files holding secrets.
 */
export function uploadCommand(path: string, options: PutOptions = {}): Command {
  const dir = folderOf(path);
  const parts = [raw('set -e'), raw('umask 077'), sh`tmp=$(mktemp ${`${dir}/.pgtasks.XXXXXX`})`, raw(`trap 'rm -f "$tmp"' EXIT`), raw('cat > "$tmp"')];
  if (options.owner || options.group) {
    parts.push(sh`chown ${`${options.owner ?? ''}${options.group ? `:${options.group}` : ''}`} "$tmp"`);
  }
  parts.push(sh`chmod ${options.mode ?? '0644'} "$tmp"`);
  parts.push(sh`mv -f "$tmp" ${path}`);
  parts.push(raw('trap - EXIT'));
  return script(...parts);
}

/** One file of uploadFilesCommand: `bytes` of stdin, in the order given. */
export interface UploadFile {
  path: string;
  bytes: number;
  options?: PutOptions;
}

/** What follows the files' contents on stdin: a stream cut short cannot end with it. */
export const UPLOAD_END = '@@pgtasks-upload-end\n';

/**
 * Several files of one folder in one command: one round trip, and about half the processes of an
 * upload each (the config step's 10 files: 26 instead of 50). Their contents arrive one after the
 * other on stdin, then UPLOAD_END; each is read by `head -c` (GNU head reads no byte past its count)
 * into a private temp folder beside the targets. Only when every byte and the end mark arrived are
 * owners and modes set and each file renamed over its target: a cut stream replaces nothing.
 */
export function uploadFilesCommand(files: UploadFile[]): Command {
  const dir = folderOf(files[0]!.path);
  if (files.some((f) => folderOf(f.path) !== dir)) throw new Error('uploadFilesCommand: the files must share one folder (renames stay on one filesystem)');
  // The script works inside its temp folder: a relative target would land there.
  if (!dir.startsWith('/')) throw new Error(`uploadFilesCommand: ${files[0]!.path} is not an absolute path`);
  const parts = [raw('set -e'), raw('umask 077'), sh`d=$(mktemp -d ${`${dir}/.pgtasks.XXXXXX`})`, raw(`trap 'rm -rf "$d"' EXIT`), raw('cd "$d"')];
  files.forEach((f, i) => parts.push(sh`head -c ${f.bytes} > ${i}`));
  parts.push(raw(`IFS= read -r end || true; [ "$end" = @@pgtasks-upload-end ] || { echo 'the upload ended early: no file was replaced' >&2; exit 1; }`));
  const byOwner = groupIndexes(files, (f) =>
    f.options?.owner || f.options?.group ? `${f.options.owner ?? ''}${f.options.group ? `:${f.options.group}` : ''}` : '',
  );
  for (const [owner, names] of byOwner) if (owner) parts.push(sh`chown ${owner} ${names}`);
  for (const [mode, names] of groupIndexes(files, (f) => f.options?.mode ?? '0644')) parts.push(sh`chmod ${mode} ${names}`);
  files.forEach((f, i) => parts.push(sh`mv -f ${i} ${f.path}`));
  parts.push(raw('cd / && rmdir "$d"'), raw('trap - EXIT'));
  return script(...parts);
}

/** The folder a file is in ('/' for a file at the root). */
export function folderOf(path: string): string {
  return path.replace(/\/[^/]*$/, '') || '/';
}

/** The files' positions grouped by `key`, in first-seen order. */
function groupIndexes(files: UploadFile[], key: (f: UploadFile) => string): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  files.forEach((f, i) => groups.set(key(f), [...(groups.get(key(f)) ?? []), i]));
  return groups;
}
