import { dataDir } from '../facts/postgres.js';
import type { MemberFacts } from './plan.js';
import { chooseRejoin, type RejoinChoice } from './rejoin-choice.js';
import type { Phase } from './switchover-plan.js';
import type { ClusterSpec, Member } from './vars.js';

/** Stages of a rewind, in order (a host that failed one stage is left out of the next). */
export const REWIND_STAGES = ['rewind: checkpoint', 'rewind: stop', 'rewind'] as const;

/** Stages of a rejoin, in order; configure-cluster converges after them. */
export const REJOIN_STAGES = ['stop', 'set aside', ...REWIND_STAGES] as const;

/**
 * Rewinding replicas from `primary`: a CHECKPOINT there first (pg_rewind reads the source's timeline
 * from its control file, which a fresh promotion updates only at the next checkpoint), then each host
 * stopped (when running, or not known not to be) and pg_rewound, left stopped and marked standby.
 */
export function rewindPhases(prefix: string, hosts: { host: string; running?: boolean }[], primary: Member): Phase[] {
  if (!hosts.length) return [];
  return [
    {
      stage: 'rewind: checkpoint',
      host: primary.host,
      step: `${prefix}: checkpoint`,
      summary: `CHECKPOINT: pg_rewind reads ${primary.host}'s timeline from its control file`,
    },
    ...hosts.flatMap((h) => [
      ...(h.running === false ? [] : [{ stage: 'rewind: stop', host: h.host, step: `${prefix}: stop`, summary: 'stopped (fast)' }]),
      { stage: 'rewind', host: h.host, step: `${prefix}: pg_rewind`, summary: `rewound from ${primary.host} (pg_rewind), marked standby` },
    ]),
  ];
}

export interface RejoinPlan extends RejoinChoice {
  /** Where --full moves the data directory (kept, never deleted). */
  aside?: string;
  phases: Phase[];
  message: string;
}

/** The name a data directory is moved aside to: `<dir>.rejoin-YYYYMMDDTHHMMSS` (UTC). */
export function asideName(dir: string, now: Date): string {
  return `${dir}.rejoin-${now.toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}`;
}

/**
 * rejoin's decision, from the facts alone (rejoin-choice), and the steps that carry it out before
 * configure-cluster converges: nothing (it follows already, or is empty), a rewind, or --full: stop
 * and move the data directory aside (renamed, never deleted) for the converge to clone afresh.
 */
export function planRejoin(spec: ClusterSpec, members: MemberFacts[], host: string, full: boolean, now: Date): RejoinPlan | { refusal: string } {
  const choice = chooseRejoin(spec, members, host, full);
  if ('refusal' in choice) return choice;
  const { action, primary, facts: f } = choice;
  const message = `plan: ${choice.reason}`;
  if (action.kind === 'rewind') return { ...choice, phases: rewindPhases('rejoin', [{ host, running: f.running }], primary), message };
  if (action.kind !== 'reclone' || !action.moveAside) return { ...choice, phases: [], message };
  const dir = dataDir(f.version, spec.name);
  const aside = asideName(dir, now);
  return {
    ...choice,
    aside,
    phases: [
      ...(f.running ? [{ stage: 'stop', host, step: 'rejoin: stop', summary: 'stopped' }] : []),
      { stage: 'set aside', host, step: 'rejoin: set aside', summary: `${dir} kept as ${aside}; cloning afresh` },
    ],
    message,
  };
}
