import { raw, script, sh } from '../connection/shell.js';
import type { Fact } from '../engine/fact.js';

/** Where pgtasks keeps the TLS server's pid where systemd does not run it (beside PgBouncer's). */
export const PGBACKREST_SERVER_PIDFILE = '/var/run/postgresql/pgbackrest-server.pid';

export interface PgBackRestFacts {
  /** `pgBackRest 2.45`'s version, when the command is installed. */
  version?: string;
  systemd: boolean;
  /** The TLS server runs: systemd's unit is active, or the pid file names a live pgbackrest. */
  serverRunning: boolean;
}

/** pgBackRest on a host, in one round trip: installed (and which version), systemd or not, TLS server up. */
export const pgbackrestFact: Fact<PgBackRestFacts> = {
  name: 'pgbackrest',
  command: script(
    raw('command -v pgbackrest >/dev/null 2>&1 && echo "version=$(pgbackrest version 2>/dev/null)"'),
    raw('if [ -d /run/systemd/system ]; then echo systemd=1; systemctl is-active --quiet pgbackrest && echo running=1; fi'),
    sh`P=${PGBACKREST_SERVER_PIDFILE}`,
    raw('[ -f $P ] && read -r p < $P && read -r c 2>/dev/null < /proc/$p/comm && [ "$c" = pgbackrest ] && echo running=1'),
    raw('true'),
  ),
  parse(output) {
    const kv = new Map(output.split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const));
    const version = kv
      .get('version')
      ?.replace(/^pgBackRest\s+/, '')
      .trim();
    return { version: version || undefined, systemd: kv.get('systemd') === '1', serverRunning: kv.get('running') === '1' };
  },
};
