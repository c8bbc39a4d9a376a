import { expandHostPattern } from './host-range.js';
import { fail, type Origin, type RawInventory } from './model.js';
import { NONE, pyTruthy, pyType } from './py-scalars.js';
import { issue, yamlInventory } from './schema.js';
import { parseYaml, type Path } from './yaml-doc.js';
import { toPlain, type YEntry, type YNode } from './yaml-tree.js';

/** The entries of a hosts/vars/children section; `hosts: pg1` means `hosts: {pg1: }`, as in Ansible. */
function entries(v: YNode): YEntry[] {
  if (v.type === 'map') return v.entries;
  if (v.type === 'scalar' && v.scalar.kind === 'str')
    return [{ key: v.scalar, name: v.scalar.value as string, value: { type: 'scalar', scalar: NONE, line: v.line }, line: v.line }];
  return [];
}

/** A group key as Ansible's InventoryData.add_group takes it, with its messages (the YAML plugin's prefix). */
function groupName(e: YEntry, origin: Origin): string {
  const k = e.key;
  if (!pyTruthy(k)) fail(origin, `Unable to add group ${k.str}: Invalid empty/false group name provided: ${k.str}`);
  if (k.kind !== 'str') fail(origin, `Unable to add group ${k.str}: Invalid group name supplied, expected a string but got ${pyType(k)} for ${k.str}`);
  return e.name;
}

/** A host key as the YAML plugin's _parse_host and add_host take it: `16:` or `yes:` is not a host name. */
function hostPattern(e: YEntry, origin: Origin): string {
  if (e.key.kind !== 'str') fail(origin, `Host pattern ${e.key.str} must be a string. Enclose integers/floats in quotation marks.`);
  if (e.name === '') fail(origin, 'Invalid empty host name provided: ');
  return e.name;
}

/**
 * Adds a YAML inventory (Ansible's format: group → hosts/vars/children, nested) to `raw`.
 * Sections, groups and hosts are read in the order they are written, as Ansible does: it fixes the
 * host order (the bootstrap host, the synchronous replicas).
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

  const visitGroup = (entry: YEntry, path: Path): string => {
    const name = groupName(entry, y.origin(path));
    raw.group(name, y.origin(path));
    if (entry.value.type !== 'map') return name;
    for (const section of entry.value.entries) {
      if (section.name === 'vars') {
        for (const v of entries(section.value)) raw.setGroupVar(name, v.name, toPlain(v.value), y.origin([...path, 'vars', v.name]));
      } else if (section.name === 'children') {
        for (const c of entries(section.value)) {
          const childPath = [...path, 'children', c.name];
          raw.addChild(name, visitGroup(c, childPath), y.origin(childPath));
        }
      } else {
        for (const h of entries(section.value)) {
          const hostPath = [...path, 'hosts', h.name];
          const origin = y.origin(hostPath);
          const pattern = hostPattern(h, origin);
          let expanded: ReturnType<typeof expandHostPattern>;
          try {
            expanded = expandHostPattern(pattern);
          } catch (err) {
            return fail(origin, `${hostPath.join('.')}: ${(err as Error).message}`);
          }
          const hostVars = h.value.type === 'map' ? h.value.entries : [];
          for (const host of expanded.hosts) {
            raw.addHost(name, host, origin);
            if (expanded.port !== undefined) raw.setHostVar(host, 'ansible_port', expanded.port, origin);
            for (const v of hostVars) raw.setHostVar(host, v.name, toPlain(v.value), y.origin([...hostPath, v.name]));
          }
        }
      }
    }
    return name;
  };
  if (y.tree?.type === 'map') for (const g of y.tree.entries) visitGroup(g, [g.name]);
}
