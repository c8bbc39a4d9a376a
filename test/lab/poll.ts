/**
 * Polling for a condition instead of sleeping for a guessed time: fast when the condition comes
 * early, and a slow machine only costs time up to the bound.
 */

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Calls fn until ok(value) or the deadline; returns the last value either way (the caller asserts on it). */
export async function eventually<T>(fn: () => Promise<T> | T, ok: (v: T) => boolean, timeoutMs = 30_000, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > deadline) return v;
    await pause(intervalMs);
  }
}

/** Waits until fn() is truthy; past the deadline throws, naming what it waited for and the last value. */
export async function waitFor<T>(what: string, fn: () => Promise<T> | T, timeoutMs = 30_000, intervalMs = 50): Promise<T> {
  const started = Date.now();
  const v = await eventually(fn, Boolean, timeoutMs, intervalMs);
  if (!v) throw new Error(`timed out after ${Date.now() - started} ms waiting for ${what} (last value: ${String(v)})`);
  return v;
}
