import { raw, script, sh } from '../src/connection/shell.js';
import { runAction } from '../src/engine/action.js';
import { fact } from '../src/engine/fact.js';
import { change, ok, step, type Step } from '../src/engine/step.js';
import { systemFact } from '../src/facts/system.js';

/** The apt script that installs PostgreSQL `version` (Debian's "main" cluster switched off first). */
export function installCommand(version: number, pgdg: boolean) {
  const fromPgdg = raw(`apt-get update -q
apt-get install -y -q postgresql-common
install -d /etc/apt/sources.list.d
. /etc/os-release
echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt $VERSION_CODENAME-pgdg main" > /etc/apt/sources.list.d/pgdg.list`);
  return script(
    raw(`set -e
export DEBIAN_FRONTEND=noninteractive
install -d /etc/postgresql-common/createcluster.d
echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/pgtasks.conf`),
    ...(pgdg ? [fromPgdg] : []),
    raw('apt-get update -q'),
    sh`apt-get install -y -q ${`postgresql-${version}`} ${`postgresql-client-${version}`}`,
  );
}

/**
 * Installs PostgreSQL `version` from the distribution (or the PGDG repository when asked), skipped
 * when the server binaries are there. Debian's automatic "main" cluster is switched off first: pgtasks
 * creates the clusters the inventory names, and no others.
 */
export function installRole(version: number, opts: { pgdg?: boolean } = {}): Step[] {
  return [
    step('install', async (view) => {
      const sys = await fact(view, systemFact);
      if (sys.postgresMajors.includes(version)) return ok(`postgresql ${version} present`);
      return change(`apt-get install postgresql-${version}${opts.pgdg ? ' (from apt.postgresql.org)' : ''}`, [
        runAction(installCommand(version, opts.pgdg ?? false), { user: 'root', timeoutMs: 15 * 60_000 }),
      ]);
    }),
  ];
}
