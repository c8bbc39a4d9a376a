import { restoreCommand } from './pgbackrest-config.js';

/*
 * The arguments of `pgbackrest restore` for restore-cluster: what to recover to, where, and the
 * restore_command the restored server will use. Pure; the caller runs them (as postgres) on the host.
 */

export type RestoreTarget = { kind: 'time'; time: Date } | { kind: 'lsn'; lsn: string } | { kind: 'immediate' } | { kind: 'latest' };

export interface RestoreInput {
  /** The stanza backed up: the source cluster's name, also for restore-cluster --into NEW. */
  stanza: string;
  target: RestoreTarget;
  /** Where files are written (a side directory that is renamed into place afterwards, say). */
  restorePath: string;
  /** The data directory the server will run from: restore_command's pg1-path. Default: restorePath. */
  finalPath?: string;
  /** Rewrite only what differs in a non-empty directory (checksums); without it the directory must be empty. */
  delta?: boolean;
  /** Leave standby.signal instead of recovery.signal: a replica built from the repository. */
  standby?: boolean;
  /** The backup set to restore (--set); pgBackRest's own choice otherwise (by time for a time target, else the newest). */
  set?: string;
}

const LSN = /^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/;

/**
 * A time as pgBackRest's restore parses it to choose the backup set (getEpoch, restore.c):
 * `YYYY-MM-DD HH:MM:SS[.ffffff]+HH`, no `T` and no `Z`. Always UTC, so the server's time zone never matters.
 */
export function formatTargetTime(time: Date): string {
  if (Number.isNaN(time.getTime())) throw new Error('restore target: not a valid time');
  const iso = time.toISOString(); // 2025-06-01T09:12:44.123Z
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}+00`;
}

/**
 * `restore` arguments. A time or LSN target promotes when reached (pgBackRest's default, pause,
 * would leave a hot standby waiting for a resume nobody sends); immediate stops at the backup's
 * consistent point; latest replays the whole archive and promotes at its end (PostgreSQL's default).
 */
export function restoreArgs(input: RestoreInput): string[] {
  const args = [`--stanza=${input.stanza}`, `--pg1-path=${input.restorePath}`];
  const t = input.target;
  if (t.kind === 'time') args.push('--type=time', `--target=${formatTargetTime(t.time)}`);
  if (t.kind === 'lsn') {
    if (!LSN.test(t.lsn)) throw new Error(`restore target: ${JSON.stringify(t.lsn)} is not an LSN (such as 0/3000028)`);
    args.push('--type=lsn', `--target=${t.lsn}`);
  }
  if (t.kind === 'immediate') args.push('--type=immediate');
  if (input.standby) {
    if (t.kind !== 'latest') throw new Error('a standby restore follows its primary: it takes no recovery target');
    args.push('--type=standby');
  } else if (t.kind !== 'latest') args.push('--target-action=promote');
  if (input.set !== undefined) args.push(`--set=${input.set}`);
  if (input.delta) args.push('--delta');
  // restore writes its own restore_command naming --pg1-path as given here: a side directory would be wrong once renamed.
  args.push(`--recovery-option=restore_command=${restoreCommand(input.stanza, input.finalPath ?? input.restorePath)}`);
  args.push('restore');
  return args;
}
