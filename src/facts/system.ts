import { raw, script } from '../connection/shell.js';
import type { Fact } from '../engine/fact.js';

export interface SystemFacts {
  hostname: string;
  os: string;
  /** PostgreSQL majors whose server binaries are installed (Debian layout /usr/lib/postgresql/N). */
  postgresMajors: number[];
  /** Whether systemd runs as init: decides systemctl vs pg_ctlcluster/direct daemons. */
  systemd: boolean;
  hasSudo: boolean;
  pgbouncerInstalled: boolean;
  pgbouncerRunning: boolean;
  /** pgtasks' marker of a PAUSE it has not lifted yet (see PAUSED_MARKER). */
  pgbouncerPausedMarker: boolean;
}

export const systemFact: Fact<SystemFacts> = {
  name: 'system',
  // Built-ins only (no process but the shell): every host runs this at the same moment.
  command: script(
    raw('read -r h < /proc/sys/kernel/hostname; echo "hostname=$h"'),
    raw('. /etc/os-release 2>/dev/null; echo "os=${PRETTY_NAME:-unknown}"'),
    raw('m=; for b in /usr/lib/postgresql/*/bin/postgres; do [ -x "$b" ] && { v=${b#/usr/lib/postgresql/}; m="$m ${v%%/*}"; }; done; echo "majors=$m"'),
    raw('[ -d /run/systemd/system ] && echo systemd=1 || echo systemd=0'),
    raw('command -v sudo >/dev/null && echo sudo=1 || echo sudo=0'),
    raw('[ -x /usr/sbin/pgbouncer ] && echo pgbouncer=1'),
    raw(
      'P=/var/run/postgresql/pgbouncer.pid; [ -f $P ] && read -r p < $P && read -r c 2>/dev/null < /proc/$p/comm && [ "$c" = pgbouncer ] && echo pgbouncer_running=1',
    ),
    raw('[ -f /var/run/postgresql/pgbouncer.pgtasks-paused ] && echo pgbouncer_paused_marker=1'),
  ),
  parse(output) {
    const kv = new Map(output.split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const));
    return {
      hostname: kv.get('hostname') ?? '',
      os: kv.get('os') ?? 'unknown',
      postgresMajors: (kv.get('majors') ?? '')
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map(Number)
        .sort((a, b) => a - b),
      systemd: kv.get('systemd') === '1',
      hasSudo: kv.get('sudo') === '1',
      pgbouncerInstalled: kv.get('pgbouncer') === '1',
      pgbouncerRunning: kv.get('pgbouncer_running') === '1',
      pgbouncerPausedMarker: kv.get('pgbouncer_paused_marker') === '1',
    };
  },
};
