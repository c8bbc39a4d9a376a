import type { NodeState, PgNodeFacts } from '../../../src/facts/postgres.js';

/** Facts of one PostgreSQL member as gather() would read them, for fixtures: a healthy node in `state`. */
export function nodeFacts(state: NodeState, extra: Partial<PgNodeFacts> = {}): PgNodeFacts {
  const hasData = state === 'PRIMARY' || state === 'REPLICA';
  return {
    version: 15,
    cluster: 'main',
    port: 5432,
    installed: true,
    configured: hasData,
    state,
    running: hasData,
    systemIdentifier: hasData ? '7000' : undefined,
    timeline: hasData ? 1 : undefined,
    lsn: hasData ? '0/3000000' : undefined,
    pendingRestart: [],
    slots: [],
    deactivatedDirs: [],
    streaming: [],
    roles: [],
    replayPaused: false,
    confStale: false,
    confErrors: [],
    ...extra,
  };
}
