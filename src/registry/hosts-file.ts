/** The marker that makes a pgtasks line in /etc/hosts ours, per cluster. */
export const hostsMarker = (cluster: string) => `# pgtasks:${cluster}`;

/**
 * /etc/hosts with this cluster's line pointing `name` at `address`: the previous pgtasks line of the
 * cluster is replaced, every other line is left exactly as it was. Pure, so it is tested as data.
 */
export function rewriteHosts(text: string, cluster: string, name: string, address: string): string {
  const marker = hostsMarker(cluster);
  const kept = text.split('\n').filter((l) => !l.trimEnd().endsWith(marker));
  while (kept.length && kept[kept.length - 1] === '') kept.pop();
  return `${kept.join('\n')}\n${address} ${name}  ${marker}\n`;
}
