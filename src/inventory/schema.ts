import { z } from 'zod';

/**
 * Types of the connection variables pgtasks reads (Ansible's names). Checked where each value is
 * written, so an error can point at that file and line.
 */
export const connectionVars = z.object({
  ansible_host: z.string().min(1),
  ansible_port: z.coerce.number().int().min(1).max(65535),
  ansible_user: z.string().min(1),
  ansible_ssh_private_key_file: z.string().min(1),
  ansible_become: z.union([z.boolean(), z.enum(['true', 'false', 'yes', 'no', 'True', 'False'])]),
  ansible_become_user: z.string().min(1),
  ansible_connection: z.enum(['ssh', 'local', 'smart', 'paramiko']),
  ansible_ssh_timeout: z.coerce.number().positive(),
  ssh_host_key_checking: z.enum(['strict', 'accept-new', 'off']),
  ssh_known_hosts_file: z.string().min(1),
}).partial();

/** Returns the first problem with the connection variables in `vars`, as [variable, message]. */
export function connectionVarProblem(vars: Record<string, unknown>): [string, string] | undefined {
  const known = Object.fromEntries(Object.entries(vars).filter(([k]) => k in connectionVars.shape));
  // ansible_port is an integer in Ansible's YAML; a string that is not a number is a mistake, not a port.
  const parsed = connectionVars.safeParse(known);
  if (parsed.success) return undefined;
  const issue = parsed.error.issues[0]!;
  const key = String(issue.path[0]);
  return [key, `${key} ${JSON.stringify(vars[key])}: ${issue.message}`];
}

export const GROUP_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;
