import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import { ensureHostDirs, killHostProcess, startHostProcess } from './host-process.js';
import { DEFAULT_LAB, LAB_ROOT, labLayout, PRIVATE_DIRS, type LabLayout } from './layout.js';
import { ensureBridge, ensureHostNetwork, removeNetworks } from './netns.js';
import { bash, must, type ShellResult } from './shell.js';

export interface LabHost {
  name: string;
  address: string;
  /** The host's pid 1, as seen from this machine's pid namespace. */
  pid: number;
}

export interface Lab {
  name: string;
  dir: string;
  bridge: string;
  gateway: string;
  hosts: LabHost[];
  privateKeyFile: string;
  knownHostsFile: string;
  inventoryFile: string;
}

function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new Error('the lab needs root (network, mount and pid namespaces)');
}

async function save(l: LabLayout, hosts: LabHost[]): Promise<Lab> {
  const lab: Lab = {
    name: l.name,
    dir: l.dir,
    bridge: l.bridge,
    gateway: l.gateway,
    hosts,
    privateKeyFile: l.privateKeyFile,
    knownHostsFile: l.knownHostsFile,
    inventoryFile: l.inventoryFile,
  };
  await writeFile(l.stateFile, JSON.stringify(lab, null, 2));
  const keys = await Promise.all(
    hosts.map(async (h) => `${h.address} ${(await readFile(`${l.hostDir(h.name)}/ssh_host_ed25519_key.pub`, 'utf8')).split(' ').slice(0, 2).join(' ')}`),
  );
  await writeFile(l.knownHostsFile, keys.join('\n') + '\n', { mode: 0o600 });
  const inventory = {
    all: {
      vars: { ssh_known_hosts_file: l.knownHostsFile, ssh_host_key_checking: 'strict' },
      children: {
        lab: {
          hosts: Object.fromEntries(
            hosts.map((h) => [h.name, { ansible_host: h.address, ansible_user: 'root', ansible_ssh_private_key_file: l.privateKeyFile }]),
          ),
        },
      },
    },
  };
  await writeFile(l.inventoryFile, `# Written by the pgtasks lab (${l.name}).\n${stringify(inventory)}`);
  return lab;
}

async function bootHost(l: LabLayout, i: number): Promise<LabHost> {
  const name = `h${i}`;
  await ensureHostNetwork(l, name, i);
  await ensureHostDirs(l, name);
  const address = l.address(i);
  return { name, address, pid: await startHostProcess(l, name, address) };
}

/** Creates N hosts (h1..hN), after removing whatever an earlier run of this lab left behind. */
export async function labUp(opts: { hosts: number; name?: string }): Promise<Lab> {
  requireRoot();
  const l = labLayout(opts.name ?? DEFAULT_LAB);
  refuseSharedNetwork(l);
  await labDown(l.name);
  await mkdir(l.dir, { recursive: true, mode: 0o700 });
  await mountLabDisk(l);
  await must(`ssh-keygen -q -t ed25519 -N '' -C pgtasks-lab -f ${l.privateKeyFile}`);
  await ensureBridge(l);
  const hosts = await Promise.all(Array.from({ length: opts.hosts }, (_, k) => bootHost(l, k + 1)));
  return save(l, hosts);
}

/**
 * Two labs whose names hash to one index would share a bridge and addresses: bringing one up or down
 * tears down the other's network. Refused while the other one is up.
 */
function refuseSharedNetwork(l: LabLayout): void {
  if (!existsSync(LAB_ROOT)) return;
  for (const other of readdirSync(LAB_ROOT)) {
    if (other === l.name || !existsSync(labLayout(other).stateFile)) continue;
    if (labLayout(other).bridge !== l.bridge) continue;
    throw new Error(
      `lab ${l.name} would share ${l.prefix}.0/24 (${l.bridge}) with lab ${other}, which is up: take it down first (npm run lab -- down --name ${other}) or pick another name`,
    );
  }
}

/** Grows a running lab by `count` hosts. */
export async function addHosts(lab: Lab, count: number): Promise<Lab> {
  const l = labLayout(lab.name);
  const first = lab.hosts.length + 1;
  const added = await Promise.all(Array.from({ length: count }, (_, k) => bootHost(l, first + k)));
  return save(l, [...lab.hosts, ...added]);
}

export async function labStatus(name = DEFAULT_LAB): Promise<Lab | undefined> {
  const l = labLayout(name);
  if (!existsSync(l.stateFile)) return undefined;
  return JSON.parse(readFileSync(l.stateFile, 'utf8')) as Lab;
}

/** Removes every process, namespace, link and file of the lab, also after a crash. */
export async function labDown(name = DEFAULT_LAB): Promise<void> {
  requireRoot();
  const l = labLayout(name);
  const lab = await labStatus(name);
  for (const h of lab?.hosts ?? []) await killHostProcess(h.pid);
  // Processes left in the lab's network namespaces (an earlier crash) go too.
  await bash(
    `for ns in $(ip netns list | awk '{print $1}' | grep '^${l.name}-'); do for p in $(ip netns pids "$ns"); do kill -KILL "$p"; done; done; pkill -KILL -f 'named -c ${l.dir}/' ; true`,
  );
  await removeNetworks(l);
  // Lazy: a mount namespace of a host that is still being torn down may hold it a moment longer.
  await bash(`if mountpoint -q ${l.dir}; then umount -l ${l.dir}; fi; rm -rf ${l.dir}`);
}

/**
 * The lab's hosts keep their disks (data directories, /tmp, /root) in one tmpfs per lab, not on this
 * machine's disk. Thirty hosts on one ext4 file system that tests fill and wipe all day made inode
 * allocation (ext4's recently-deleted inode scan) the largest cost of building a cluster: a cold
 * 3-host configure-cluster took 4.8 s of CPU on ext4, 3.3 s on tmpfs (wall 3.6 -> 2.6 s). A real host
 * has a disk of its own. PGTASKS_LAB_DISK=1 keeps the lab on the disk. The size is a ceiling, not a
 * reservation (a 30-host lab with ten clusters uses ~1.5 GiB).
 */
async function mountLabDisk(l: LabLayout): Promise<void> {
  if (process.env.PGTASKS_LAB_DISK === '1') return;
  await must(`mountpoint -q ${l.dir} || mount -t tmpfs -o size=8g,mode=0700 pgtasks-lab-${l.name} ${l.dir}`);
}

function host(lab: Lab, name: string): LabHost {
  const h = lab.hosts.find((x) => x.name === name);
  if (!h) throw new Error(`no lab host ${name}`);
  return h;
}

/** Runs a command inside every namespace of a host, as if logged in there. */
export function hostExec(lab: Lab, name: string, cmd: string): Promise<ShellResult> {
  // The script goes on stdin: no quoting to get wrong.
  return bash(`exec nsenter -t ${host(lab, name).pid} -a bash -s`, cmd);
}

/** Power off: every process of the host dies at once; its disks stay. */
export async function stopHost(lab: Lab, name: string): Promise<void> {
  await killHostProcess(host(lab, name).pid);
}

/** Power on again, same disks and address; resolves once sshd accepts connections. */
export async function startHost(lab: Lab, name: string): Promise<void> {
  const l = labLayout(lab.name);
  const h = host(lab, name);
  const i = Number(name.slice(1));
  await ensureHostNetwork(l, name, i);
  h.pid = await startHostProcess(l, name, h.address);
  await save(l, lab.hosts);
}

/** Lose a disk: empties the host's private folders (default: PostgreSQL's data and configuration). */
export async function wipeHost(lab: Lab, name: string, paths = ['/var/lib/postgresql', '/etc/postgresql']): Promise<void> {
  const l = labLayout(lab.name);
  for (const p of paths) {
    if (!PRIVATE_DIRS.some((d) => d.path === p)) throw new Error(`${p} is not one of a lab host's own folders`);
    await must(`find ${l.hostDir(name)}/${p.slice(1).replace(/\//g, '-')} -mindepth 1 -delete`);
  }
}
