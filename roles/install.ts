import { raw, script, sh } from '../src/connection/shell.js';
import { fact } from '../src/engine/fact.js';
import { change, ok, step, type Step } from '../src/engine/step.js';
import { systemFact } from '../src/facts/system.js';

/**
 * Installs PostgreSQL `version` from the distribution (or the PGDG repository when asked), skipped
 * when the server binaries are there. Debian's automatic "main" cluster is switched off first: pgtasks
 * creates the clusters the inventory names, and no others.
 */
export function installRole(version: number, opts: { pgdg?: boolean } = {}): Step[] {
  return [
    step('install', async (ctx) => {
      const sys = await fact(ctx, systemFact);
      if (sys.postgresMajors.includes(version)) return ok(`postgresql ${version} present`);
      return change(`apt-get install postgresql-${version}${opts.pgdg ? ' (from apt.postgresql.org)' : ''}`, async () => {
        const pgdg = raw(`apt-get update -q
apt-get install -y -q postgresql-common
install -d /etc/apt/sources.list.d
. /etc/os-release
echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt $VERSION_CODENAME-pgdg main" > /etc/apt/sources.list.d/pgdg.list`);
        await ctx.run(
          script(
            raw(`set -e
export DEBIAN_FRONTEND=noninteractive
install -d /etc/postgresql-common/createcluster.d
echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/pgtasks.conf`),
            ...(opts.pgdg ? [pgdg] : []),
            raw('apt-get update -q'),
            sh`apt-get install -y -q ${`postgresql-${version}`} ${`postgresql-client-${version}`}`,
          ),
          { user: 'root', timeoutMs: 15 * 60_000 },
        );
        await fact(ctx, systemFact, true);
      });
    }),
  ];
}
