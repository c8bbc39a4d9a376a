import { quote } from './shell.js';
import type { PutOptions } from './types.js';

/**
 * The remote half of an atomic upload: content arrives on stdin into a temp file beside the target
 * (same filesystem, so the rename is atomic), gets its owner and mode, then replaces the target.
 * umask 077 keeps the temp file private even before chmod, which matters for files holding secrets.
 */
export function uploadCommand(path: string, options: PutOptions = {}): string {
  const dir = path.replace(/\/[^/]*$/, '') || '/';
  const parts = [
    'set -e',
    'umask 077',
    `tmp=$(mktemp ${quote(`${dir}/.pgtasks.XXXXXX`)})`,
    'trap \'rm -f "$tmp"\' EXIT',
    'cat > "$tmp"',
  ];
  if (options.owner || options.group) {
    parts.push(`chown ${quote(`${options.owner ?? ''}${options.group ? `:${options.group}` : ''}`)} "$tmp"`);
  }
  parts.push(`chmod ${quote(options.mode ?? '0644')} "$tmp"`);
  parts.push(`mv -f "$tmp" ${quote(path)}`);
  parts.push('trap - EXIT');
  return parts.join('\n');
}
