/**
 * The synchronous_standby_names value: FIRST n over every candidate, in inventory order. Listing
 * them all means losing one sync replica while another streams does not block writes; with none
 * left, commits wait (strict: an acknowledged commit is on n replicas, or it is not acknowledged).
 */
export function syncSetting(names: string[], count: number): string {
  return names.length === 0 || count === 0 ? '' : `FIRST ${Math.min(count, names.length)} (${names.map((n) => `"${n}"`).join(', ')})`;
}
