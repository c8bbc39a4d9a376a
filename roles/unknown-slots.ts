import type { ClusterContext } from '../src/cluster/cluster-context.js';
import { slotName } from '../src/cluster/vars.js';
import type { HostView } from '../src/engine/host-view.js';

/** Slots already warned about, per run of a cluster (slot steps can run twice in one converge). */
const warned = new WeakMap<ClusterContext, Set<string>>();

/**
 * Physical slots that match no member of the inventory: a host deleted from the inventory (or a
 * consumer pgtasks does not know, such as a backup tool). Such a slot keeps WAL from being removed
 * for as long as it exists, so the disk can fill up; pgtasks never drops what it cannot attribute,
 * it says so once per slot with the exact command that drops it.
 */
export function warnUnknownSlots(ctx: HostView, cc: ClusterContext, slots: { name: string; active: boolean }[]): void {
  const members = new Set(cc.spec.members.map((m) => slotName(m.host)));
  const seen = warned.get(cc) ?? new Set<string>();
  warned.set(cc, seen);
  for (const s of slots) {
    if (members.has(s.name) || seen.has(`${ctx.host}/${s.name}`)) continue;
    seen.add(`${ctx.host}/${s.name}`);
    // Slot names are [a-z0-9_] (PostgreSQL's rule), so they need no quoting inside the command.
    ctx.message(
      `WARNING: replication slot ${s.name} on ${ctx.host} matches no host in the inventory` +
        (s.active ? ' (a client streams through it now)' : ': it keeps WAL on this host until dropped') +
        `; pgtasks will not drop it. If ${s.name} is gone for good, drop it on ${ctx.host}: ` +
        `sudo -u postgres psql -p ${cc.spec.port} -c "select pg_drop_replication_slot('${s.name}')"`,
    );
  }
}
