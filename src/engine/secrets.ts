import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Values that must never reach the terminal or a log, for one run. Everything the reporters print
 * goes through mask(), so a password that slips into a command's stderr is still hidden. One per
 * Run (never module-wide): two runs in one process (the tests run pgtasks in-process many times)
 * neither share nor leak each other's secrets.
 */
export class Secrets {
  private readonly values = new Set<string>();

  /** Remembers `value` (4 characters or more: shorter ones would mask ordinary words) and returns it. */
  register(value: string): string {
    if (value.length >= 4) this.values.add(value);
    return value;
  }

  mask(text: string): string {
    let out = text;
    for (const s of this.values) out = out.split(s).join('********');
    return out;
  }
}

/** The secrets of the run whose task is executing, for the compatible registerSecret() below. */
const current = new AsyncLocalStorage<Secrets>();

/** Runs `fn` with `secrets` as the ones registerSecret() registers into (the CLI wraps each run's tasks in it). */
export function withRunSecrets<T>(secrets: Secrets, fn: () => T): T {
  return current.run(secrets, fn);
}

/**
 * Compatible form of `run.secrets.register(value)` for team task files written before secrets were
 * run-scoped: registers into the secrets of the run whose task is calling it (found through the
 * async context, not a global), so it masks that run's output and no other's. Prefer
 * `run.secrets.register(value)`. Called outside a run's task it throws: there is no output to mask.
 */
export function registerSecret(value: string): string {
  const secrets = current.getStore();
  if (!secrets) throw new Error('registerSecret() called outside a pgtasks task: use run.secrets.register(value)');
  return secrets.register(value);
}
