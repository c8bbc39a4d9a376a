import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ClusterContext } from '../src/cluster/cluster-context.js';
import type { ClusterSpec, Member, RegistrySpec } from '../src/cluster/vars.js';
import { raw } from '../src/connection/shell.js';
import type { Run } from '../src/engine/run.js';
import { call, runAction } from '../src/engine/action.js';
import { reads } from '../src/engine/host-view.js';
import { change, ok, runStep, step, type Step } from '../src/engine/step.js';
import { currentRecord, desiredRecord, updateRecord } from '../src/registry/dns.js';
import { rewriteHosts } from '../src/registry/hosts-file.js';
import { localExec } from '../src/registry/local-exec.js';

export function dnsStep(spec: ClusterSpec, registry: Extract<RegistrySpec, { provider: 'dns' }>, name: string, primary: Member, env: NodeJS.ProcessEnv): Step {
  return step('register', async () => {
    const want = desiredRecord(registry, primary.address, primary.host);
    const have = await currentRecord(registry, name, env);
    if (have && have.type === want.type && have.value === want.value) return ok(`${name} ${want.type} ${want.value}`);
    return change(`${name} ${have ? `${have.type} ${have.value}` : '(none)'} -> ${want.type} ${want.value}`, [
      call(`nsupdate (from this machine) to ${registry.server}: ${name} ${want.type} ${want.value}`, () => updateRecord(registry, name, want, env)),
    ]);
  });
}

export function hostsStep(spec: ClusterSpec, name: string, primary: Member): Step {
  return step('register', async (ctx) => {
    const current = (await ctx.read(reads(raw('cat /etc/hosts')))).stdout;
    const next = rewriteHosts(current, spec.name, name, primary.address);
    if (next === current) return ok(`${name} -> ${primary.address} in /etc/hosts`);
    // In place, not by rename: /etc/hosts is often a bind mount (containers), which a rename cannot replace.
    return change(`${name} -> ${primary.address} in /etc/hosts`, [runAction(raw('cat > /etc/hosts'), { stdin: next, user: 'root' })]);
  });
}

/** The command provider cannot be asked where the name points: the last primary it was given is kept locally. */
export function commandStep(
  spec: ClusterSpec,
  registry: Extract<RegistrySpec, { provider: 'command' }>,
  name: string,
  primary: Member,
  env: NodeJS.ProcessEnv,
): Step {
  const stateDir = resolve(spec.credentialsDir, spec.name);
  const stateFile = join(stateDir, 'registered-primary');
  return step('register', async () => {
    const last = (await readFile(stateFile, 'utf8').catch(() => '')).trim();
    if (last === primary.host) return ok(`${name} -> ${primary.host} (by command)`);
    return change(`${name} -> ${primary.host} (run: ${registry.command})`, [
      call(`run on this machine: ${registry.command}`, async () => {
        const r = await localExec('sh', ['-c', registry.command], {
          env: {
            ...env,
            PGTASKS_CLUSTER: spec.name,
            PGTASKS_SERVICE_NAME: name,
            PGTASKS_PRIMARY: primary.host,
            PGTASKS_PRIMARY_ADDRESS: primary.address,
            PGTASKS_PORT: String(spec.port),
          },
          timeoutMs: 120_000,
        });
        if (r.code !== 0) throw new Error(`registry command exited ${r.code}: ${(r.stderr || r.stdout).trim()}`);
        await mkdir(stateDir, { recursive: true, mode: 0o700 });
        await writeFile(stateFile, `${primary.host}\n`, { mode: 0o600 });
      }),
    ]);
  });
}

/**
 * Points the cluster's service name at `primary` with the provider in pg_registry. Used by
 * configure-cluster and by every task that moves the primary. Reported on the primary's line
 * (dns, command: done from this machine) or on each /etc/hosts host.
 */
export async function registerPrimary(run: Run, spec: ClusterSpec, primary: Member): Promise<void> {
  const registry = spec.registry;
  const name = spec.serviceName;
  if (!name || !registry || registry.provider === 'none') return;
  if (registry.provider === 'hosts') {
    await run.onHosts(await run.hosts(registry.hosts), (ctx) => runStep(ctx, hostsStep(spec, name, primary)).then(() => {}));
    return;
  }
  const s = registry.provider === 'dns' ? dnsStep(spec, registry, name, primary, run.io.env) : commandStep(spec, registry, name, primary, run.io.env);
  await run.onHosts([primary.host], (ctx) => runStep(ctx, s).then(() => {}));
}

export async function registerRole(run: Run, cc: ClusterContext): Promise<void> {
  await registerPrimary(run, cc.spec, cc.plan.primary);
}
