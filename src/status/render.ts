import { humanBytes, type ClusterStatus } from './model.js';

const dash = (v: unknown) => (v === undefined || v === null || v === '' ? '-' : String(v));

/**
 * A plain table per cluster, under 120 columns, then what to do about each problem (one line each,
 * with the command); colour only for the verdict, and only on a TTY.
 */
export function renderStatus(clusters: ClusterStatus[], color: boolean): string {
  const paint = (code: string, t: string) => (color ? `\x1b[${code}m${t}\x1b[0m` : t);
  const out: string[] = [];
  for (const c of clusters) {
    const verdict =
      c.summary.state === 'IN SYNC' ? paint('32', c.summary.text) : c.summary.state === 'DELAY' ? paint('33', c.summary.text) : paint('31', c.summary.text);
    out.push(`CLUSTER ${c.cluster}  ${verdict}`);
    const header = ['HOST', 'ROLE', 'STATE', 'UPSTREAM', 'TL', 'LSN', 'LAG', 'DELAY', 'SYNC', 'CONN', 'SIZE', 'ADDRESS'];
    const rows = c.members.map((m) => [
      m.host,
      m.role,
      m.state,
      dash(m.upstream),
      dash(m.timeline),
      dash(m.lsn),
      m.lagBytes === undefined ? '-' : humanBytes(Number(m.lagBytes)),
      m.lagSeconds === undefined ? '-' : `${Number(m.lagSeconds).toFixed(1)}s`,
      dash(m.sync),
      m.connections === undefined ? '-' : `${m.connections}/${m.maxConnections}`,
      m.sizeBytes === undefined ? '-' : humanBytes(m.sizeBytes),
      m.address,
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (cells: string[]) =>
      cells
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd();
    out.push(line(header), ...rows.map(line));
    out.push(versions(c));
    if (c.backup) out.push(c.backup.verdict === 'OK' ? c.backup.text : paint('31', c.backup.text));
    for (const a of [...c.summary.advice, ...(c.backup?.problems ?? [])]) out.push(`! ${a}`);
    out.push('');
  }
  return out.join('\n');
}

/** One line: the PostgreSQL version, or each member's when they differ (a rolling upgrade). */
function versions(c: ClusterStatus): string {
  const known = c.members.filter((m) => m.version);
  const distinct = new Set(known.map((m) => m.version));
  if (distinct.size <= 1) return `PostgreSQL ${[...distinct][0] ?? '-'}`;
  return `PostgreSQL ${known.map((m) => `${m.host} ${m.version}`).join(', ')}`;
}
