/**
 * Host names as inventories write them (both formats, as Ansible's _expand_hostpattern):
 * `db[01:03]`, `w[a:c]`, `h[0:10:2]` ranges, and a `:port` suffix (`db1:2222`, `[fe80::1]:22`).
 * Throws Error with a message; the caller adds file and line.
 */
export function expandHostPattern(text: string): { hosts: string[]; port?: number } {
  let pattern = text.trim();
  let port: number | undefined;
  // A colon inside brackets belongs to a range, an IPv6 address has several: neither is a port.
  const withPort = /^((?:[^:[\]]|\[[^\]]*\])+):(\d+)$/.exec(pattern);
  if (withPort) {
    pattern = withPort[1]!;
    port = Number(withPort[2]);
  } else if (pattern.endsWith(':') && !/::$/.test(pattern)) {
    throw new Error(`invalid host '${text}': a trailing ':' must be followed by a port`);
  }
  const ipv6 = /^\[([0-9a-fA-F:.]*:[0-9a-fA-F:.]*)\]$/.exec(pattern);
  if (ipv6 && !isRange(ipv6[1]!)) pattern = ipv6[1]!;
  if (pattern === '---') throw new Error(`invalid host '---' (a YAML document marker: is this file YAML?)`);
  return { hosts: expandRanges(pattern), ...(port !== undefined ? { port } : {}) };
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

function isRange(inner: string): boolean {
  return /^[0-9a-zA-Z]*:[0-9a-zA-Z]+(:\d+)?$/.test(inner);
}

/** Ansible's expand_hostname_range: the first [..] recursively, zero-padded when begin is. */
export function expandRanges(pattern: string): string[] {
  const m = /^([^[]*)\[([^\]]*)\](.*)$/.exec(pattern);
  if (!m || !isRange(m[2]!)) return [pattern];
  const [, head, inner, tail] = m as unknown as [string, string, string, string];
  const bounds = inner.split(':');
  const beg = bounds[0] || '0';
  const end = bounds[1]!;
  const step = Number(bounds[2] ?? 1);
  if (!(step > 0)) throw new Error(`host range [${inner}]: step must be a positive number`);
  const items: string[] = [];
  if (LETTERS.includes(beg) && LETTERS.includes(end) && beg.length === 1 && end.length === 1) {
    const from = LETTERS.indexOf(beg);
    const to = LETTERS.indexOf(end);
    if (from > to) throw new Error(`host range [${inner}]: begin must be <= end`);
    for (let i = from; i <= to; i += step) items.push(LETTERS[i]!);
  } else {
    if (!/^\d+$/.test(beg) || !/^\d+$/.test(end)) throw new Error(`host range [${inner}]: use numbers or single letters`);
    const width = beg.length > 1 && beg.startsWith('0') ? beg.length : 0;
    if (width && end.length !== width) throw new Error(`host range [${inner}]: begin and end must have the same width`);
    for (let i = Number(beg); i <= Number(end); i += step) items.push(String(i).padStart(width, '0'));
  }
  return items.flatMap((item) => expandRanges(`${head}${item}${tail}`));
}
