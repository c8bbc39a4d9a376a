import { createHash } from 'node:crypto';
import { join } from 'node:path';

export const LAB_ROOT = '/var/tmp/pgtasks-lab';
export const DEFAULT_LAB = 'pgtasks';

/** The paths each lab host gets privately (bind-mounted from its own folder), with owner and mode. */
export const PRIVATE_DIRS: { path: string; owner: string; mode: string }[] = [
  { path: '/etc/postgresql', owner: 'postgres:postgres', mode: '0755' },
  { path: '/var/lib/postgresql', owner: 'postgres:postgres', mode: '0755' },
  { path: '/var/run/postgresql', owner: 'postgres:postgres', mode: '2775' },
  { path: '/var/log/postgresql', owner: 'postgres:adm', mode: '1775' },
  { path: '/etc/pgbouncer', owner: 'postgres:postgres', mode: '0755' },
  // pgBackRest's configuration, repository, logs, spool and cron files are each host's own (a repository
  // host and its members must not share a config or a repository by accident).
  { path: '/etc/pgbackrest', owner: 'root:root', mode: '0755' },
  { path: '/var/lib/pgbackrest', owner: 'postgres:postgres', mode: '0750' },
  { path: '/var/log/pgbackrest', owner: 'postgres:postgres', mode: '0750' },
  { path: '/var/spool/pgbackrest', owner: 'postgres:postgres', mode: '0750' },
  { path: '/etc/cron.d', owner: 'root:root', mode: '0755' },
  { path: '/tmp', owner: 'root:root', mode: '1777' },
  // Each machine has its own /root: the lab key, and none of this machine's shell start-up files.
  { path: '/root', owner: 'root:root', mode: '0700' },
];

/** Everything about a lab that follows from its name: deterministic, so inventories can be committed. */
export function labLayout(name: string) {
  // The default lab is 10.231.0.0/24; others get their own /24 derived from the name.
  const index = name === DEFAULT_LAB ? 0 : (createHash('sha1').update(name).digest()[0]! % 200) + 1;
  const dir = join(LAB_ROOT, name);
  return {
    name,
    index,
    dir,
    bridge: `pgtbr${index}`,
    gateway: `10.231.${index}.1`,
    prefix: `10.231.${index}`,
    privateKeyFile: join(dir, 'id_ed25519'),
    knownHostsFile: join(dir, 'known_hosts'),
    inventoryFile: join(dir, 'inventory.yml'),
    stateFile: join(dir, 'lab.json'),
    hostDir: (host: string) => join(dir, 'hosts', host),
    netns: (host: string) => `${name}-${host}`,
    veth: (i: number) => `pgt${index}h${i}`,
    address: (i: number) => `10.231.${index}.${10 + i}`,
  };
}

export type LabLayout = ReturnType<typeof labLayout>;
