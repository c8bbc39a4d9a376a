import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { HostKeyChecking } from './known-hosts.js';
import type { SshTarget } from './ssh.js';

function expandHome(path: string): string {
  return path.startsWith('~/') ? join(homedir(), path.slice(2)) : path;
}

/** Maps Ansible's connection variables onto an SSH target, with Ansible's defaults. */
export function sshTargetFromVars(name: string, vars: Record<string, unknown>): SshTarget {
  const str = (key: string): string | undefined => (vars[key] === undefined ? undefined : String(vars[key]));
  return {
    name,
    address: str('ansible_host') ?? name,
    port: vars.ansible_port === undefined ? 22 : Number(vars.ansible_port),
    user: str('ansible_user') ?? userInfo().username,
    privateKeyFile: str('ansible_ssh_private_key_file') && expandHome(str('ansible_ssh_private_key_file')!),
    hostKeyChecking: (str('ssh_host_key_checking') as HostKeyChecking | undefined) ?? 'strict',
    knownHostsFile: expandHome(str('ssh_known_hosts_file') ?? '~/.ssh/known_hosts'),
    connectTimeoutMs: (vars.ansible_ssh_timeout === undefined ? 10 : Number(vars.ansible_ssh_timeout)) * 1000,
    // Ansible's booleans: true/yes/on/1 in any case.
    become: /^(true|yes|on|1)$/i.test(String(vars.ansible_become ?? '')),
    becomeUser: str('ansible_become_user') ?? 'root',
  };
}
