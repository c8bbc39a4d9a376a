/**
 * Libraries a run needs only once its hosts answer (pg for the live facts, nunjucks for the config
 * files) are loaded while the first SSH handshakes wait on the network, instead of after them, on the
 * way from facts to plan. A module registers its loader with warmUpLater(); the connection calls
 * warmUp() once its TCP connect has started. Loading is CPU the run pays anyway (a run that never
 * connects loads nothing); one loader per macrotask, so the handshakes' packets are handled between.
 * (A no-op configure-cluster on 3 lab hosts spent ~90 ms loading pg and nunjucks after its facts.)
 */
const loaders = new Set<() => unknown>();
let started = false;

export function warmUpLater(load: () => unknown): void {
  loaders.add(load);
}

export function warmUp(): void {
  if (started) return;
  started = true;
  const next = () => {
    const [load] = loaders;
    if (!load) return;
    loaders.delete(load);
    try {
      void Promise.resolve(load()).catch(() => {});
    } catch {
      /* the real use loads it again and reports its error there */
    }
    setImmediate(next);
  };
  setImmediate(next);
}
