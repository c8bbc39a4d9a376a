import type { Inventory } from '../inventory/types.js';
import { HOST_ADDRESS_MESSAGE, isHostAddress, isOneLine, ONE_LINE_MESSAGE } from './address-syntax.js';
import { show, type VarProblem } from './value-problems.js';

/* Checks of host addresses, reported like the pg_* problems (see address-syntax.ts for why). */

function addressProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return `${HOST_ADDRESS_MESSAGE} (got ${show(value)}, a ${value === null ? 'null' : typeof value}: quote it)`;
  return isHostAddress(value) ? undefined : `${HOST_ADDRESS_MESSAGE} (got ${show(value)})`;
}

/**
 * ansible_host on every host, checked before anything connects; for a cluster member without one its
 * name is its address, so the name is checked instead; a member's name is written in its
 * configuration files, so it must be one line.
 */
export function addressProblems(inv: Inventory): VarProblem[] {
  const out: VarProblem[] = [];
  for (const h of inv.hosts.values()) {
    const scope = `host ${h.name}`;
    const member = h.vars.pg_cluster !== undefined;
    if (h.vars.ansible_host !== undefined) {
      const problem = addressProblem(h.vars.ansible_host);
      if (problem) out.push({ origin: h.origins?.ansible_host, scope, message: `ansible_host: ${problem}` });
    } else if (member && !isHostAddress(h.name)) {
      out.push({
        origin: h.origins?.pg_cluster,
        scope,
        message: `host ${show(h.name)} has no ansible_host, so its name is its address, and it ${HOST_ADDRESS_MESSAGE}; set ansible_host`,
      });
      continue;
    }
    if (member && !isOneLine(h.name))
      out.push({ origin: h.origins?.pg_cluster, scope, message: `host name ${show(h.name)} ${ONE_LINE_MESSAGE}: it is written into configuration files` });
  }
  return out;
}
