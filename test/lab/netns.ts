import { bash, must } from './shell.js';
import type { LabLayout } from './layout.js';

/** The lab's bridge in the root namespace, with the gateway address; no route anywhere else. */
export async function ensureBridge(l: LabLayout): Promise<void> {
  await must(`set -e
ip link show ${l.bridge} >/dev/null 2>&1 || ip link add ${l.bridge} type bridge
ip addr replace ${l.gateway}/24 dev ${l.bridge}
ip link set ${l.bridge} up`);
}

/** A host's network namespace, wired to the bridge with its own address. */
export async function ensureHostNetwork(l: LabLayout, host: string, i: number): Promise<void> {
  const ns = l.netns(host);
  const veth = l.veth(i);
  await must(`set -e
ip netns list | grep -qx '${ns}\\( (id: [0-9]*)\\)\\?' || ip netns add ${ns}
if ! ip link show ${veth} >/dev/null 2>&1; then
  ip link add ${veth} type veth peer name eth0 netns ${ns}
  ip link set ${veth} master ${l.bridge} up
fi
ip -n ${ns} link set lo up
ip -n ${ns} addr replace ${l.address(i)}/24 dev eth0
ip -n ${ns} link set eth0 up`);
}

export async function removeNetworks(l: LabLayout): Promise<void> {
  await bash(`for ns in $(ip netns list | awk '{print $1}' | grep '^${l.name}-'); do ip netns del "$ns"; done
for v in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep '^pgt${l.index}h'); do ip link del "$v"; done
ip link del ${l.bridge} 2>/dev/null; true`);
}
