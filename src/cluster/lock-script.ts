import { randomBytes } from 'node:crypto';
import { inline, sh, type Command } from '../connection/shell.js';

/**
 * The host side of the cluster lock, as shell scripts, and the parser of what they print.
 *
 * On each member, `/var/lib/postgresql/.pgtasks-<cluster>.lock` is flock()ed by a bash process that
 * lives exactly as long as the run that holds it: it reads the run's stdin (an SSH channel of the
 * host's one connection) and ends on "release" (a clean end), on EOF (the run died or its connection
 * dropped) or when no heartbeat came for the lease (a controller gone without closing its TCP
 * connection). `/var/lib/postgresql/.pgtasks-<cluster>.run` says who holds the lock; it is emptied only
 * by a clean release, so finding it filled beside a free lock means the previous run died.
 * Few processes (flock, one grep; the rest shell built-ins): this is one round trip of every run.
 *
 * What a dead run may have left is found by name, not from a list it kept (a run can die between
 * starting a command and writing down its pid):
 * - long commands (pg_basebackup, initdb, pg_rewind, and the single-user postgres the last two start)
 *   run with PGTASKS_RUN=<cluster>/<run id> in their environment, inherited by their children;
 *   PostgreSQL servers are never started with it: a server pgtasks started is what was wanted.
 * - side directories `<data dir>.pgtasks-clone`, `<data dir>.pgtasks-initdb` and `<data dir>.pgtasks-restore` (restore-cluster).
 */

/** The environment variable marking a process as started by a pgtasks run on a cluster. */
export const RUN_TAG_VAR = 'PGTASKS_RUN';
export const LOCK_BASE = '/var/lib/postgresql';
/** The side directories pgtasks builds data directories in; see sideDirsScript for why removing them is safe. */
export const SIDE_SUFFIXES = ['.pgtasks-clone', '.pgtasks-initdb', '.pgtasks-restore'];

export interface Holder {
  user: string;
  host: string;
  pid: number;
  task: string;
  since: string;
  run: string;
}

export interface LockScriptOptions {
  cluster: string;
  /** Where the lock and run files live (a host's /var/lib/postgresql; a temp folder in tests). */
  base?: string;
  /**
   * A read-only command run right after the lock is taken (or found free, with --check), its output
   * printed between @@read-begin and @@read-end: the run's first facts come in the lock's own round
   * trip instead of one more exec (and one more shell start-up) per host.
   */
  thenRead?: Command;
}

/**
 * The read after @@locked/@@free: in a subshell without the lock's descriptor (children must not hold
 * it), set -u, or the holder's stdin (the run's pings and release); stderr joins stdout, as facts want.
 */
function readAfterLock(o: LockScriptOptions): Command {
  if (!o.thenRead) return sh``;
  // A fresh token in both markers: no line of the read's output can end it early.
  const token = randomBytes(8).toString('hex');
  return sh`echo ${`@@read-begin ${token}`}
( set +u; ${inline(o.thenRead)}
) 9>&- </dev/null 2>&1
printf ${`\n@@read-end ${token} %s\n`} "$?"`;
}

/**
 * The scripts' bash. --norc: bash reads ~/.bashrc when started by sshd, and this one counts as such
 * (same shell level, stdin the SSH channel), so it would pay the login shell's start-up files a second
 * time (~100 ms where they load pyenv or conda); it inherits that shell's environment anyway.
 */
const BASH = sh`bash --norc -c`;

export function lockFiles(o: LockScriptOptions): { lock: string; run: string } {
  const base = o.base ?? LOCK_BASE;
  return { lock: `${base}/.pgtasks-${o.cluster}.lock`, run: `${base}/.pgtasks-${o.cluster}.run` };
}

/** The value a run's long commands carry in PGTASKS_RUN. */
export const runTag = (cluster: string, runId: string) => `${cluster}/${runId}`;

const ereEscape = (s: string) => s.replace(/[.[\]()*+?{}|^$\\]/g, '\\$&');

/** Shell functions shared by both scripts: find the processes of a tag, stop them, handle side directories. */
function functions(o: LockScriptOptions): Command {
  const base = o.base ?? LOCK_BASE;
  // Patterns: the folder and name quoted, the * between them a glob.
  const dirs = SIDE_SUFFIXES.map((s) => sh`${base}/*/${`${o.cluster}${s}`}`).reduce((a, b) => sh`${inline(a)} ${inline(b)}`);
  return sh`
# pids whose environment holds ${RUN_TAG_VAR}=<value matching the ERE $1> (a zombie's environment reads empty)
tagged() {
  local f p
  for f in $(grep -lzsE "^${RUN_TAG_VAR}=$1\\$" /proc/[0-9]*/environ 2>/dev/null); do p=\${f#/proc/}; echo "\${p%/environ}"; done
}
describe() { printf '%s %s\\n' "$1" "$(tr '\\0' ' ' < /proc/$1/cmdline 2>/dev/null | cut -c1-160)"; }
# Stops them (they were started by a run that is gone, and nobody waits for them) and waits until they are gone.
# Each look kills what it finds: a process forked between a look and its kill (pg_basebackup starts its
# WAL streamer seconds in) carries the tag too, and is caught by the next look instead of living on.
stop_tagged() {
  local pids p i seen=' '
  for i in $(seq 200); do
    pids=$(tagged "$1")
    [ -n "$pids" ] || return 0
    for p in $pids; do case "$seen" in *" $p "*) ;; *) echo "@@stopped $(describe $p)"; seen="$seen$p ";; esac; done
    kill -KILL $pids 2>/dev/null
    sleep 0.05
  done
  echo "@@alive $(tagged "$1" | tr '\\n' ' ')"
}
# A side directory is where pgtasks builds a data directory (pg_basebackup, initdb, pgbackrest restore) before moving it
# into place in one rename, by the run that made it, under this lock. So one that still exists while we
# hold the lock, after that run's commands are stopped, never became a data directory: no server ever
# ran on it and nothing was written to it but a copy (of the primary or the backup repository, which still have everything) or
# an empty new cluster. Removing it loses nothing. The one thing never touched: a directory some
# server runs on (a live postmaster.pid), which pgtasks never makes but a person might.
side_dirs() {
  local d p
  for d in ${inline(dirs)}; do
    [ -d "$d" ] || continue
    if [ -f "$d/postmaster.pid" ] && read -r p < "$d/postmaster.pid" && kill -0 "$p" 2>/dev/null; then echo "@@kept $d"; continue; fi
    if [ "$1" = remove ]; then rm -rf "$d" && echo "@@removed $d"; else echo "@@would-remove $d"; fi
  done
}`;
}

/**
 * Takes the lock (never waits: a held lock is a refusal), cleans up after a dead previous run, writes
 * who holds it, prints @@locked, then holds the lock until released, stdin closes or the lease ends.
 * A held lock prints @@held and the holder's lines, and exits.
 */
export function holderScript(o: LockScriptOptions & { holder: Holder; leaseSeconds: number }): Command {
  const { lock, run } = lockFiles(o);
  const me = runTag(o.cluster, o.holder.run);
  const info = (Object.keys(o.holder) as (keyof Holder)[]).map((k) => `${k}=${String(o.holder[k]).replace(/\n/g, ' ')}`);
  const script = sh`set -u
L=${lock}; R=${run}
${inline(functions(o))}
[ -d ${o.base ?? LOCK_BASE} ] || mkdir -p ${o.base ?? LOCK_BASE} || exit 3
exec 9>>"$L" || exit 3
if ! flock -n 9; then echo @@held; cat "$R" 2>/dev/null; exit 0; fi
# Children must not inherit the lock: only this shell may hold it. Tagged processes can outlive only a
# run that did not release (a clean release stops its own stragglers, below), so they are looked for
# only after such a run: a no-op run starts no process here but flock.
if [ -s "$R" ]; then
  echo @@stale; while IFS= read -r l; do echo "@@was $l"; done < "$R"
  stop_tagged ${`${ereEscape(o.cluster)}/[0-9a-f]+`} 9>&-
fi
side_dirs remove 9>&-
printf '%s\\n' ${info} > "$R" || exit 3
echo @@locked
${inline(readAfterLock(o))}
while IFS= read -r -t ${o.leaseSeconds} line; do
  [ "$line" = release ] || continue
  : > "$R"; exec 9>&-; echo @@released
  # After the answer, off the run's path: a command whose channel was closed on a timeout may still run.
  exec >/dev/null 2>&1
  stop_tagged ${ereEscape(me)}
  exit 0
done
# The run is gone (its connection closed, or no heartbeat within the lease): stop what it started, note
# it in the run file (which stays, telling the next run), then free the lock. Stopping is a matter of
# milliseconds: a new run seldom finds the lock still held by a run that is gone.
stop_tagged ${ereEscape(me)} 9>&- | while IFS= read -r l; do case "$l" in '@@stopped '*) echo "stopped=\${l#@@stopped }" >> "$R";; esac; done`;
  return sh`exec ${inline(BASH)} ${script}`;
}

/** --check: reports the lock and what a real run would clean up, changing nothing (no file is created). */
export function probeScript(o: LockScriptOptions): Command {
  const { lock, run } = lockFiles(o);
  const script = sh`set -u
L=${lock}; R=${run}
${inline(functions(o))}
if [ -e "$L" ]; then
  # A shared lock for an instant, on a read-only descriptor: fails exactly when a run holds it.
  exec 9<"$L"
  if ! flock -n -s 9; then echo @@held; cat "$R" 2>/dev/null; exit 0; fi
  exec 9<&-
fi
if [ -s "$R" ]; then echo @@stale; while IFS= read -r l; do echo "@@was $l"; done < "$R"; fi
for p in $(tagged ${`${ereEscape(o.cluster)}/[0-9a-f]+`}); do echo "@@would-stop $(describe $p)"; done
side_dirs check
echo @@free
${inline(readAfterLock(o))}`;
  return sh`exec ${inline(BASH)} ${script}`;
}

export type LockReply =
  | { state: 'held'; holder?: Holder }
  | {
      state: 'locked' | 'free';
      /** Who held the lock in a run that died (its run file was still there). */
      stale?: Holder;
      /** "pid command" of the processes stopped (or, with --check, that would be). */
      stopped: string[];
      /** "pid command" of what the dead run's own holder stopped when the run went away. */
      stoppedAtDeath: string[];
      removed: string[];
      kept: string[];
      /** Processes that would not die: a failure. */
      alive?: string;
    }
  | { state: 'incomplete' };

/** The output and exit status of LockScriptOptions.thenRead, when it was asked for and ran. */
export interface ReadAfterLock {
  code: number;
  stdout: string;
}

/** Splits a holder's or probe's output into the lock's lines and the read's; `read` undefined until @@read-end. */
export function splitReadAfterLock(stdout: string): { lock: string; read?: ReadAfterLock } {
  const begin = /(?:^|\n)@@read-begin ([0-9a-f]+)\n/.exec(stdout);
  if (!begin) return { lock: stdout };
  const lock = stdout.slice(0, begin.index + 1);
  const rest = stdout.slice(begin.index + begin[0].length);
  // printf puts a newline before the end marker: the read's last line may lack one.
  const end = new RegExp(`\\n@@read-end ${begin[1]} (\\d+)\\n`).exec(rest);
  if (!end) return { lock };
  return { lock, read: { code: Number(end[1]), stdout: rest.slice(0, end.index) } };
}

function parseHolder(lines: string[]): Holder | undefined {
  const kv = new Map(lines.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  if (!kv.get('user') && !kv.get('host')) return undefined;
  return {
    user: kv.get('user') ?? '?',
    host: kv.get('host') ?? '?',
    pid: Number(kv.get('pid')) || 0,
    task: kv.get('task') ?? '?',
    since: kv.get('since') ?? '?',
    run: kv.get('run') ?? '?',
  };
}

/** Reads what holderScript or probeScript printed; 'incomplete' until @@locked / @@free / the end of @@held. */
export function parseLockReply(stdout: string, exited: boolean): LockReply {
  const lines = stdout.split('\n').filter(Boolean);
  if (lines[0] === '@@held') return exited ? { state: 'held', holder: parseHolder(lines.slice(1)) } : { state: 'incomplete' };
  const end = lines.find((l) => l === '@@locked' || l === '@@free');
  if (!end) return { state: 'incomplete' };
  const after = (prefix: string) => lines.filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length));
  return {
    state: end === '@@locked' ? 'locked' : 'free',
    stale: lines.includes('@@stale') ? parseHolder(after('@@was ')) : undefined,
    stoppedAtDeath: after('@@was stopped='),
    stopped: [...after('@@stopped '), ...after('@@would-stop ')],
    removed: [...after('@@removed '), ...after('@@would-remove ')],
    kept: after('@@kept '),
    alive: after('@@alive ')[0],
  };
}

export function describeHolder(h: Holder | undefined): string {
  if (!h) return 'another pgtasks run (no holder information)';
  return `${h.task} by ${h.user}@${h.host} (pid ${h.pid}) since ${h.since}`;
}
