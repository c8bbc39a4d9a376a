import { raw, script, sh, type Command } from './shell.js';
import type { PutOptions } from './types.js';

/**
 * The remote half of an atomic upload: content arrives on stdin into a temp file beside the target
 * (same filesystem, so the rename is atomic), gets its owner and mode, then replaces the target.
 * umask 077 keeps the temp file private even before chmod, which matters for files holding secrets.
 */
export function uploadCommand(path: string, options: PutOptions = {}): Command {
  const dir = path.replace(/\/[^/]*$/, '') || '/';
  const parts = [raw('set -e'), raw('umask 077'), sh`tmp=$(mktemp ${`${dir}/.pgtasks.XXXXXX`})`, raw(`trap 'rm -f "$tmp"' EXIT`), raw('cat > "$tmp"')];
  if (options.owner || options.group) {
    parts.push(sh`chown ${`${options.owner ?? ''}${options.group ? `:${options.group}` : ''}`} "$tmp"`);
  }
  parts.push(sh`chmod ${options.mode ?? '0644'} "$tmp"`);
  parts.push(sh`mv -f "$tmp" ${path}`);
  parts.push(raw('trap - EXIT'));
  return script(...parts);
}
