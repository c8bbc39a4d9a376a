import { expandHostPattern } from './host-range.js';
import { fail, type RawInventory } from './model.js';
import { issue, yamlInventory } from './schema.js';
import { parseYaml, type Path } from './yaml-doc.js';

type Body = { hosts?: unknown; vars?: unknown; children?: unknown } | null;

/** `hosts: pg1` means `hosts: {pg1: }`, as in Ansible. */
function entries(v: unknown): [string, unknown][] {
  if (v === null || v === undefined) return [];
  return typeof v === 'string' ? [[v, null]] : Object.entries(v as Record<string, unknown>);
}

/**
 * Adds a YAML inventory (Ansible's format: group → hosts/vars/children, nested) to `raw`.
 * Sections are read in the order they are written, as Ansible does: it fixes the host order.
 */
export function loadYamlInventory(raw: RawInventory, file: string, text: string): void {
  const y = parseYaml(file, text);
  // An empty file: Ansible's YAML plugin gives up and its INI plugin reads an empty inventory.
  if (y.data === null || y.data === undefined) return;
  if (typeof y.data === 'object' && 'plugin' in y.data) fail(y.origin(['plugin']), 'inventory plugin configurations are not supported; list hosts and groups');
  const checked = yamlInventory.safeParse(y.data);
  if (!checked.success) {
    const { path, message } = issue(checked.error, y.data);
    fail(y.origin(path), path.length ? `${path.join('.')}: ${message}` : message);
  }

  const visitGroup = (name: string, body: Body, path: Path): void => {
    raw.group(name, y.origin(path));
    if (!body) return;
    for (const section of Object.keys(body) as (keyof NonNullable<Body>)[]) {
      const value = body[section];
      if (section === 'vars') {
        for (const [k, v] of entries(value)) raw.setGroupVar(name, k, v, y.origin([...path, 'vars', k]));
      } else if (section === 'children') {
        for (const [child, childBody] of entries(value)) {
          const childPath = [...path, 'children', child];
          visitGroup(child, childBody as Body, childPath);
          raw.addChild(name, child, y.origin(childPath));
        }
      } else {
        for (const [pattern, hostVars] of entries(value)) {
          const hostPath = [...path, 'hosts', pattern];
          const origin = y.origin(hostPath);
          let expanded: ReturnType<typeof expandHostPattern>;
          try {
            expanded = expandHostPattern(pattern);
          } catch (err) {
            return fail(origin, `${hostPath.join('.')}: ${(err as Error).message}`);
          }
          for (const host of expanded.hosts) {
            raw.addHost(name, host, origin);
            if (expanded.port !== undefined) raw.setHostVar(host, 'ansible_port', expanded.port, origin);
            for (const [k, v] of entries(hostVars)) raw.setHostVar(host, k, v, y.origin([...hostPath, k]));
          }
        }
      }
    }
  };
  for (const [name, body] of Object.entries(y.data as Record<string, Body>)) visitGroup(name, body, [name]);
}
