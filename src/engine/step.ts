import type { Action } from './action.js';
import type { Status } from './events.js';
import { executeActions } from './execute.js';
import type { HostContext } from './host-context.js';
import type { HostView } from './host-view.js';

/**
 * What a step decided after reading facts. 'ok' and 'skip' carry the reason nothing is done;
 * 'change' carries what would change and the actions that change it, as data: the engine runs them,
 * or in check mode only describes them.
 */
export type Plan =
  | { kind: 'ok'; reason?: string }
  | { kind: 'skip'; reason: string }
  | {
      kind: 'change';
      summary: string;
      diff?: string;
      actions: Action[];
      /** What the change came to once its actions ran, when that is not the summary (a PAUSE called off): shown instead. */
      outcome?: () => string | undefined;
    };

/** A named unit of work on one host: a plan made from a read-only view of it (facts, probes). */
export interface Step {
  name: string;
  plan(view: HostView): Promise<Plan>;
}

export type ChangePlan = Extract<Plan, { kind: 'change' }>;

export const ok = (reason?: string): Plan => ({ kind: 'ok', reason });
export const skip = (reason: string): Plan => ({ kind: 'skip', reason });
export const change = (summary: string, actions: Action[], diff?: string): ChangePlan => ({ kind: 'change', summary, actions, diff });

export function step(name: string, plan: (view: HostView) => Promise<Plan>): Step {
  return { name, plan };
}

/** A step failed on a host: the host stops here (as in Ansible), other hosts go on. */
export class StepFailed extends Error {
  constructor(
    readonly host: string,
    readonly step: string,
    message: string,
  ) {
    super(message);
    this.name = 'StepFailed';
  }
}

/** Plans, applies unless in check mode, and reports one step on one host. */
export async function runStep(ctx: HostContext, s: Step): Promise<Status> {
  const report = (status: Status, message?: string, diff?: string) =>
    ctx.reporter.emit({
      type: 'step',
      host: ctx.host,
      step: s.name,
      status,
      message: message && ctx.secrets.mask(message),
      diff: ctx.options.diff && diff ? ctx.secrets.mask(diff) : undefined,
      check: ctx.check,
    });
  let plan: Plan;
  try {
    plan = await s.plan(ctx.view);
    if (plan.kind === 'change') await executeActions(ctx, plan.actions, s.name);
  } catch (err) {
    if ((err as Error).name === 'UnreachableError') throw err;
    report('failed', (err as Error).message);
    throw new StepFailed(ctx.host, s.name, (err as Error).message);
  }
  if (plan.kind === 'ok') report('ok', plan.reason);
  else if (plan.kind === 'skip') report('skipped', plan.reason);
  else report('changed', (!ctx.check && plan.outcome?.()) || plan.summary, plan.diff);
  return plan.kind === 'ok' ? 'ok' : plan.kind === 'skip' ? 'skipped' : 'changed';
}

/** Runs steps in order on one host; returns true when anything changed (or would, in check mode). */
export async function runSteps(ctx: HostContext, steps: Step[]): Promise<boolean> {
  let changed = false;
  for (const s of steps) changed = (await runStep(ctx, s)) === 'changed' || changed;
  return changed;
}
