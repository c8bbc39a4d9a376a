import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { PRIVATE_DIRS, type LabLayout } from './layout.js';
import { bash, must } from './shell.js';

function mountName(path: string): string {
  return path.slice(1).replace(/\//g, '-');
}

/** The host's own folders (its "disks"), created once with the owners Debian's packages expect. */
export async function ensureHostDirs(l: LabLayout, host: string): Promise<void> {
  const d = l.hostDir(host);
  const lines = PRIVATE_DIRS.map(
    (p) => `[ -d ${d}/${mountName(p.path)} ] || install -d -o ${p.owner.split(':')[0]} -g ${p.owner.split(':')[1]} -m ${p.mode} ${d}/${mountName(p.path)}`,
  );
  await must(`set -e
install -d -m 0755 ${d}
${lines.join('\n')}
install -d -m 0700 ${d}/root/.ssh
cp ${l.privateKeyFile}.pub ${d}/root/.ssh/authorized_keys
[ -f ${d}/hosts ] || printf '127.0.0.1 localhost\\n127.0.1.1 ${host}\\n' > ${d}/hosts
[ -f ${d}/ssh_host_ed25519_key ] || ssh-keygen -q -t ed25519 -N '' -C ${host} -f ${d}/ssh_host_ed25519_key`);
}

export function sshdConfig(l: LabLayout, host: string, address: string): string {
  const d = l.hostDir(host);
  return `ListenAddress ${address}
Port 22
HostKey ${d}/ssh_host_ed25519_key
PidFile ${d}/sshd.pid
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
StrictModes no
PrintMotd no
PrintLastLog no
MaxSessions 64
MaxStartups 100
Subsystem sftp /usr/lib/openssh/sftp-server
`;
}

/**
 * The script pid 1 of the host's namespaces runs: private mounts, hostname, sshd, then reaping.
 * bash as pid 1 reaps every orphan (PostgreSQL and PgBouncer daemonize and end up its children).
 */
function initScript(l: LabLayout, host: string): string {
  const d = l.hostDir(host);
  // mkdir -p: a mount point this machine lacks (a package not installed here) is made, empty.
  const mounts = PRIVATE_DIRS.map((p) => `mkdir -p ${p.path} && mount --bind ${d}/${mountName(p.path)} ${p.path}`).join('\n');
  return `set -e
mount --make-rprivate /
${mounts}
mount --bind ${d}/hosts /etc/hosts
hostname ${host}
mkdir -p /run/sshd
/usr/sbin/sshd -f ${d}/sshd_config -E ${d}/sshd.log
set +e
trap 'exit 0' TERM
while :; do sleep 3600 & wait $!; done`;
}

/** Starts the host: a process in new mount, pid and uts namespaces inside the host's network namespace. */
export async function startHostProcess(l: LabLayout, host: string, address: string): Promise<number> {
  const d = l.hostDir(host);
  await must(`cat > ${d}/sshd_config <<'EOF'\n${sshdConfig(l, host, address)}EOF`);
  const log = openSync(join(d, 'init.log'), 'a');
  const child = spawn(
    'ip',
    ['netns', 'exec', l.netns(host), 'unshare', '--mount', '--pid', '--uts', '--fork', '--mount-proc', 'bash', '-c', initScript(l, host)],
    {
      detached: true,
      stdio: ['ignore', log, log],
    },
  );
  child.unref();
  const unsharePid = child.pid!;
  const pid = await initPid(unsharePid);
  await waitForPort(address, 22, 10_000);
  return pid;
}

/** The namespace's pid 1, seen from here: unshare's only child. */
async function initPid(unsharePid: number): Promise<number> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    // `ip netns exec` execs unshare in place, so unsharePid is unshare itself.
    const children = await readFile(`/proc/${unsharePid}/task/${unsharePid}/children`, 'utf8').catch(() => '');
    const pid = Number(children.trim().split(/\s+/)[0]);
    if (pid) {
      const comm = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '');
      if (comm.trim() === 'bash') return pid;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`lab host did not start (see its init.log)`);
}

export async function waitForPort(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host, port, timeout: 500 }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
      s.on('timeout', () => (s.destroy(), resolve(false)));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${host}:${port} did not come up within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Power off: SIGKILL to the namespace's pid 1 kills every process in it, as a power cut would. */
export async function killHostProcess(pid: number): Promise<void> {
  await bash(`kill -KILL ${pid} 2>/dev/null; for i in $(seq 100); do kill -0 ${pid} 2>/dev/null || exit 0; sleep 0.05; done`);
}
