export type Status = 'ok' | 'changed' | 'skipped' | 'failed' | 'unreachable';

/** Everything a run tells the user, as data; reporters decide how it looks (pretty, plain, JSON). */
export type RunEvent =
  | { type: 'task'; task: string; check: boolean }
  | { type: 'step'; host: string; step: string; status: Status; message?: string; diff?: string; check: boolean }
  | { type: 'command'; host: string; command: string }
  | { type: 'message'; host?: string; text: string }
  | { type: 'result'; task: string; data: unknown; text: string }
  /** Long work under way (a backup, a restore, a clone): bytes done of total, rate, time left; about once a second. */
  | { type: 'progress'; host: string; step: string; done: number; total?: number; rateBytesPerSec?: number; etaSeconds?: number }
  | { type: 'recap'; hosts: Record<string, HostStats> };

export interface HostStats {
  ok: number;
  changed: number;
  skipped: number;
  failed: number;
  unreachable: number;
}

export interface Reporter {
  emit(event: RunEvent): void;
}

export function emptyStats(): HostStats {
  return { ok: 0, changed: 0, skipped: 0, failed: 0, unreachable: 0 };
}
