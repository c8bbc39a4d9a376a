import { inline, raw, script, sh, type Command } from '../connection/shell.js';
import type { Fact } from '../engine/fact.js';

/** What the data directory says about this node, independent of what the inventory wishes. */
export type NodeState = 'EMPTY' | 'PRIMARY' | 'REPLICA' | 'DEACTIVATED' | 'UNKNOWN';

export interface PgNodeFacts {
  version: number;
  cluster: string;
  port: number;
  installed: boolean;
  configured: boolean;
  state: NodeState;
  /** Why UNKNOWN, for the refusal message. */
  detail?: string;
  /** The state could not be read at all (permissions, a failed command): an error for the host. */
  unreadable?: boolean;
  running: boolean;
  systemIdentifier?: string;
  timeline?: number;
  /** Most advanced WAL position known (current on a primary, max(received, replayed) on a replica). */
  lsn?: string;
  /** Host in the replica's primary_conninfo, running or configured. */
  upstream?: string;
  walReceiverStatus?: string;
  pendingRestart: string[];
  slots: { name: string; active: boolean }[];
  deactivatedDirs: string[];
  startConf?: string;
  serverVersionNum?: number;
  /** On a running primary: application_names of the replicas streaming from it. */
  streaming: string[];
  /** Login roles with their stored password verifiers (never printed; used to decide, and for PgBouncer). */
  roles: PgRoleFact[];
  /** On a running primary: its timeline history file (empty on timeline 1), to tell who can still follow it. */
  history?: string;
  /** On a running replica: replay paused (pg_wal_replay_pause, or a setting lower than on the primary). */
  replayPaused: boolean;
  /** A configuration file is newer than the running server's last load: what runs is not what is on disk. */
  confStale: boolean;
  /** Lines PostgreSQL could not apply (pg_file_settings.error), as file:line: error. */
  confErrors: string[];
  /** synchronous_standby_names in effect on the running server. */
  syncNames?: string;
}

export interface PgRoleFact {
  name: string;
  superuser: boolean;
  replication: boolean;
  verifier: string;
}

/** The distribution's own PostgreSQL major (what `apt-get install postgresql` gives). */
export const DISTRO_MAJORS: Record<string, number> = {
  'debian:11': 13,
  'debian:12': 15,
  'debian:13': 17,
  'ubuntu:20.04': 12,
  'ubuntu:22.04': 14,
  'ubuntu:24.04': 16,
};

export const dataDir = (version: number, cluster: string) => `/var/lib/postgresql/${version}/${cluster}`;
export const confDir = (version: number, cluster: string) => `/etc/postgresql/${version}/${cluster}`;

/** The live part of a node's facts: one row of `key=value` per fact, from psql or from `pg`. */
export const PG_NODE_QUERY = `select 'recovery=' || pg_is_in_recovery()::text
union all select 'lsn=' || coalesce((case when pg_is_in_recovery() then greatest(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) else pg_current_wal_lsn() end)::text, '')
union all select 'tli=' || (case when pg_is_in_recovery() then greatest((select received_tli from pg_stat_wal_receiver), (select max(('x' || substr(name, 1, 8))::bit(32)::int) from pg_ls_waldir() where name ~ '^[0-9A-F]{24}'), (select timeline_id from pg_control_checkpoint())) else ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int end)::text
union all select 'history=' || replace(coalesce(pg_read_file('pg_wal/' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) || '.history', 0, 1048576, true), ''), E'\n', '|') where not pg_is_in_recovery()
union all select 'replay_paused=' || pg_is_wal_replay_paused()::text where pg_is_in_recovery()
union all select 'conf_load=' || extract(epoch from pg_conf_load_time())::text
union all select 'conf_error=' || coalesce(sourcefile, '?') || ':' || coalesce(sourceline::text, '?') || ': ' || error from pg_file_settings where error is not null
union all select 'sync_names=' || current_setting('synchronous_standby_names')
union all select 'live_upstream=' || coalesce((select sender_host from pg_stat_wal_receiver), '')
union all select 'receiver=' || coalesce((select status from pg_stat_wal_receiver), '')
union all select 'pending_restart=' || coalesce((select string_agg(name, ',') from pg_settings where pending_restart), '')
union all select 'slot=' || slot_name || ':' || active::text from pg_replication_slots
union all select 'server_version_num=' || current_setting('server_version_num')
union all select 'sysid=' || system_identifier from pg_control_system()
union all select 'streaming=' || application_name from pg_stat_replication where state = 'streaming'
union all select 'role=' || rolcanlogin::text || '|' || rolsuper::text || '|' || rolreplication::text || '|' || coalesce(rolpassword, '') || '|' || rolname from pg_authid where rolcanlogin`;

/** Runs a command as postgres from a facts script, whoever the login is (root: runuser, else sudo). */
const PGSU = `pgsu() { cd / && if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else sudo -n -u postgres -- "$@"; fi; }`;

/** The file-level node facts, run once V (major), C (cluster) and P (port) are set. */
const NODE_FILES = `D=/var/lib/postgresql/$V/$C; E=/etc/postgresql/$V/$C
# Shell built-ins wherever possible: with every host reading its facts at once, each process counts.
echo "version=$V"
# A folder this login cannot enter looks empty to a glob: that would be a guess, so say so instead.
for p in /var/lib/postgresql /var/lib/postgresql/$V $D /etc/postgresql/$V/$C; do
  if [ -d "$p" ] && ! { [ -r "$p" ] && [ -x "$p" ]; }; then echo "error=cannot read $p as \${USER:-$(id -un)}: set ansible_become: true (or run as root)"; fi
done
[ -x /usr/lib/postgresql/$V/bin/postgres ] && echo installed=1
[ -f $E/postgresql.conf ] && echo configured=1
if [ -f $E/start.conf ]; then while read -r l; do case "$l" in '#'*|'') ;; *) echo "startconf=$l";; esac; done < $E/start.conf; fi
if [ -f $E/postgresql.conf ]; then while IFS= read -r l; do case "$l" in "primary_conninfo = '"*) l=\${l#primary_conninfo = \\'}; echo "conninfo=\${l%\\'}";; esac; done < $E/postgresql.conf; fi
for d in $D.deactivated-*; do [ -d "$d" ] && echo "deactivated=$d"; done
for f in $D/* $D/.[!.]*; do [ -e "$f" ] && { echo datadir=nonempty; break; }; done
[ -f $D/PG_VERSION ] && read -r pv < $D/PG_VERSION && echo "pgversion=$pv"
[ -f $D/standby.signal ] && echo standby=1
running=0
# The pid must be a postgres: after a power cut the file stays, and its number may be anybody's now.
[ -f $D/postmaster.pid ] && read -r pid < $D/postmaster.pid && read -r c 2>/dev/null < /proc/$pid/comm && [ "$c" = postgres ] && running=1
if [ $running = 1 ]; then
  echo running=1
  # Compared with pg_conf_load_time(): a file newer than the last load was never applied.
  stat -c 'mtime=%.6Y' $E/postgresql.conf $E/pg_hba.conf $E/pg_ident.conf $E/sync.conf $D/postgresql.auto.conf 2>/dev/null`;

/** The node facts of a stopped server: the control file and the WAL it holds. */
const NODE_STOPPED = `elif [ -f $D/global/pg_control ]; then
  # Stopped: the control file is all there is to know.
  ctl=$(/usr/lib/postgresql/$V/bin/pg_controldata $D 2>&1) || echo "error=pg_controldata $D failed: \${ctl##*:}"
  printf '%s\\n' "$ctl" | sed -n \\
    -e 's/^Database system identifier: *\\(.*\\)/sysid=\\1/p' \\
    -e 's/^Database cluster state: *\\(.*\\)/ctlstate=\\1/p' \\
    -e "s/^Latest checkpoint's TimeLineID: *\\(.*\\)/ctltli=\\1/p" \\
    -e 's/^Latest checkpoint location: *\\(.*\\)/ctllsn=\\1/p' \\
    -e 's/^Minimum recovery ending location: *\\(.*\\)/ctlminrec=\\1/p' \\
    -e 's/^Min recovery ending loc.s timeline: *\\(.*\\)/ctlmintli=\\1/p'
  # The newest timeline whose WAL this node holds: the checkpoint's own timeline is stale on a replica.
  for f in $D/pg_wal/[0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F]????????????????*; do
    [ -e "$f" ] || continue; f=\${f##*/}; t=$((0x\${f%\${f#????????}})); [ "$t" -gt "\${walt:-0}" ] && walt=$t
  done
  [ -n "$walt" ] && echo "waltli=$walt"
fi
echo facts_end=1
true`;

/** V: the distribution's own major (DISTRO_MAJORS), else the newest installed. */
function distroMajorLine(): Command {
  const cases = script(...Object.entries(DISTRO_MAJORS).map(([k, v]) => sh`${k}) echo ${v};;`));
  return sh`V=$(. /etc/os-release; case "$ID:$VERSION_ID" in ${inline(cases)} *) ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1;; esac)`;
}

/**
 * Everything configure-cluster needs to know of one node, in one shell script: data directory
 * state from the files (works when PostgreSQL is down) and, when it runs, live state from SQL.
 * A constant script; the cluster's values come in as quoted assignments at the top.
 */
export function pgNodeFact(opts: { cluster: string; version?: number; port: number; live?: boolean }): Fact<PgNodeFacts> {
  // The query as it is, one quoted word: its E'\n' must stay a newline (history lines are joined with '|').
  // psql of the cluster's own major, not /usr/bin/psql: that is Debian's pg_wrapper, a Perl start first.
  const live = sh`  Q=/usr/lib/postgresql/$V/bin/psql; [ -x "$Q" ] || Q=psql
  pgsu "$Q" -X -A -t -q -p "$P" -d postgres -c ${PG_NODE_QUERY} 2>&1 | sed 's/^psql:/psqlerror=/'`;
  return {
    name: `pg-node:${opts.cluster}`,
    command: script(
      raw(PGSU),
      opts.version === undefined ? distroMajorLine() : sh`V=${opts.version}`,
      sh`C=${opts.cluster}; P=${opts.port}`,
      raw(NODE_FILES),
      ...(opts.live === false ? [] : [live]),
      raw(NODE_STOPPED),
    ),
    parse: (output) => parsePgNode(output, opts.cluster, opts.port),
  };
}

export function parsePgNode(output: string, cluster: string, port: number): PgNodeFacts {
  const kv = new Map<string, string>();
  const multi = (key: string) =>
    output
      .split('\n')
      .filter((l) => l.startsWith(`${key}=`))
      .map((l) => l.slice(key.length + 1));
  for (const line of output.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) kv.set(line.slice(0, i), line.slice(i + 1));
  }
  const version = Number(kv.get('version'));
  const running = kv.get('running') === '1';
  const recovery = kv.get('recovery');
  const conninfoHost = /(?:^|\s)host=(\S+)/.exec(kv.get('conninfo') ?? '')?.[1]?.replace(/^'|'$/g, '');
  const deactivatedDirs = multi('deactivated');
  const f: PgNodeFacts = {
    version,
    cluster,
    port,
    installed: kv.get('installed') === '1',
    configured: kv.get('configured') === '1',
    state: 'UNKNOWN',
    running,
    systemIdentifier: kv.get('sysid'),
    timeline: Number(kv.get('tli') ?? Math.max(Number(kv.get('ctltli') ?? 0), Number(kv.get('waltli') ?? 0))) || undefined,
    lsn: kv.get('lsn') || maxLsn(kv.get('ctllsn'), kv.get('ctlminrec')),
    upstream: kv.get('live_upstream') || conninfoHost,
    walReceiverStatus: kv.get('receiver') || undefined,
    pendingRestart: (kv.get('pending_restart') ?? '').split(',').filter(Boolean),
    slots: multi('slot').map((s) => ({ name: s.slice(0, s.lastIndexOf(':')), active: s.endsWith(':true') })),
    deactivatedDirs,
    startConf: kv.get('startconf'),
    serverVersionNum: kv.get('server_version_num') ? Number(kv.get('server_version_num')) : undefined,
    streaming: multi('streaming'),
    roles: multi('role').map((r) => {
      const [, superuser, replication, verifier, ...name] = r.split('|');
      return { name: name.join('|'), superuser: superuser === 'true', replication: replication === 'true', verifier: verifier ?? '' };
    }),
    history: kv.has('history') ? kv.get('history')!.split('|').join('\n') : undefined,
    replayPaused: kv.get('replay_paused') === 'true',
    confStale: kv.has('conf_load') && multi('mtime').some((m) => Number(m) > Number(kv.get('conf_load'))),
    confErrors: multi('conf_error'),
    syncNames: kv.get('sync_names'),
  };
  const errors = multi('error');
  if (errors.length || kv.get('facts_end') !== '1') {
    // Never guess: a node whose state could not be read in full is UNKNOWN, and the plan refuses.
    f.state = 'UNKNOWN';
    f.detail = errors.length ? errors.join('; ') : 'the facts script did not finish';
    f.unreadable = true;
    return f;
  }
  if (kv.get('datadir') !== 'nonempty') {
    f.state = deactivatedDirs.length > 0 ? 'DEACTIVATED' : 'EMPTY';
  } else if (!kv.get('pgversion')) {
    f.state = 'UNKNOWN';
    f.detail = `data directory ${dataDir(version, cluster)} is not empty but holds no PostgreSQL cluster`;
  } else if (Number(kv.get('pgversion')) !== version) {
    f.state = 'UNKNOWN';
    f.detail = `data directory holds PostgreSQL ${kv.get('pgversion')}, not ${version}`;
  } else if (running && recovery === undefined) {
    f.state = 'UNKNOWN';
    f.detail = `PostgreSQL runs but cannot be queried: ${kv.get('psqlerror') ?? 'no answer'}`;
  } else if (!kv.get('sysid')) {
    f.state = 'UNKNOWN';
    f.detail = `data directory ${dataDir(version, cluster)} has no readable control file`;
  } else if (recovery !== undefined ? recovery === 'true' : kv.get('standby') === '1') {
    f.state = 'REPLICA';
  } else {
    f.state = 'PRIMARY';
  }
  return f;
}

/** LSNs as PostgreSQL prints them (hi/lo hex) to a comparable bigint. */
export function lsnValue(lsn: string | undefined): bigint {
  if (!lsn || !lsn.includes('/')) return -1n;
  const [hi, lo] = lsn.split('/');
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`);
}

function maxLsn(a?: string, b?: string): string | undefined {
  if (!a) return b;
  if (!b) return a;
  return lsnValue(a) >= lsnValue(b) ? a : b;
}
