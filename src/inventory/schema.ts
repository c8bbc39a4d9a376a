import { z } from 'zod';

const text = z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' });

/**
 * The connection variables pgtasks reads (Ansible's names), checked where each value is written
 * so an error can point at that file and line. Other variables are free-form, as in Ansible.
 */
export const connectionVars = z
  .looseObject({
    ansible_host: text,
    ansible_port: z
      .int({ error: 'must be an integer from 1 to 65535' })
      .min(1, { error: 'must be an integer from 1 to 65535' })
      .max(65535, { error: 'must be an integer from 1 to 65535' }),
    ansible_user: text,
    ansible_ssh_private_key_file: text,
    // The SSH layer honours true and "true" only: refuse yes/on/1 rather than ignore them silently.
    ansible_become: z.union([z.boolean(), z.enum(['true', 'false'])], { error: 'must be true or false' }),
    ansible_become_user: text,
    ansible_connection: z.enum(['ssh', 'local', 'smart', 'paramiko'], { error: 'must be ssh or local' }),
    ssh_host_key_checking: z.enum(['strict', 'accept-new', 'off'], { error: 'must be one of strict, accept-new, off' }),
    ssh_known_hosts_file: text,
  })
  .partial();

/** A mapping of variables whose connection variables have the right types. */
const vars = z.record(z.string(), z.unknown(), { error: 'must be a mapping of variables' }).pipe(connectionVars);

/** Ansible accepts `hosts: pg1` and `children: db` for a single entry. */
const oneOrMap = <T extends z.ZodType>(schema: T, what: string) =>
  z.preprocess((v) => (typeof v === 'string' ? { [v]: null } : v), z.record(z.string(), schema, { error: `must be a mapping of ${what}` }).nullish());

/** One group of a YAML inventory: Ansible's hosts/vars/children, nested to any depth. */
export const yamlGroup: z.ZodType = z.lazy(() =>
  z
    .strictObject(
      {
        hosts: oneOrMap(vars.nullable(), 'host names (to their variables, or nothing)'),
        vars: vars.nullish(),
        children: oneOrMap(yamlGroup.nullable(), 'group names'),
      },
      {
        error: (iss) =>
          iss.code === 'unrecognized_keys'
            ? `unknown key '${iss.keys.join("', '")}' (a group has only hosts, vars and children)`
            : 'a group must be a mapping with hosts, vars or children',
      },
    )
    .nullable(),
);

export const yamlInventory = z.record(z.string(), yamlGroup, { error: 'an inventory must be a mapping of groups (e.g. all:)' });

/** First problem with the connection variables in `v`: the path inside `v` and what is wrong. */
export function varsProblem(v: unknown): { path: (string | number)[]; message: string } | undefined {
  const r = vars.safeParse(v);
  return r.success ? undefined : issue(r.error, v);
}

export function issue(error: z.ZodError, data: unknown): { path: (string | number)[]; message: string } {
  const first = error.issues[0]!;
  const path = first.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  // Point at the unknown key itself, so the line is the key's line.
  if (first.code === 'unrecognized_keys') return { path: [...path, first.keys[0]!], message: first.message };
  let value: unknown = data;
  for (const p of path) value = (value as Record<string | number, unknown> | undefined)?.[p];
  const key = path[path.length - 1];
  return { path, message: `${key !== undefined ? `${String(key)} ` : ''}${first.message}${value === undefined ? '' : ` (got ${JSON.stringify(value)})`}` };
}
