import { psql } from '../steps/postgres.js';
import { describeAction, type Action, type PutAction } from './action.js';
import type { HostContext } from './host-context.js';
import { ProgressMeter, progressParser, type ProgressKind } from './progress.js';

/**
 * Runs a change's actions in order on one host; the first failure stops the rest (and the step fails).
 * In check mode nothing runs: each action is only described (with -v), and notifications still count,
 * so a handler reports what it would do ("would reload"). With -v every action is printed before it
 * runs, secrets masked: what `--check -v` shows is exactly what a real run executes.
 */
export async function executeActions(ctx: HostContext, actions: Action[], stepName = ''): Promise<void> {
  if (!ctx.check && actions.some((a) => a.kind !== 'notify')) ctx.changed();
  const puts: PutAction[] = [];
  for (const [i, a] of actions.entries()) {
    if (ctx.options.verbose && a.kind !== 'notify') {
      ctx.reporter.emit({ type: 'command', host: ctx.host, command: ctx.secrets.mask(`${ctx.check ? 'would run: ' : ''}${describeAction(a)}`) });
    }
    if (a.kind === 'notify') {
      if (a.handled) ctx.notified.delete(a.handler);
      else ctx.notified.add(a.handler);
      continue;
    }
    if (ctx.check) continue;
    if (a.kind === 'put') {
      // Files written one after the other go together, a folder's in one command (HostContext.putFiles).
      puts.push(a);
      if (actions[i + 1]?.kind === 'put') continue;
      await ctx.putFiles(puts.splice(0).map((p) => ({ path: p.path, content: p.content, options: { owner: p.owner, group: p.group, mode: p.mode } })));
    } else await execute(ctx, a, stepName);
    // Facts read before a change may no longer hold: the next step that asks reads them again.
    ctx.facts.clear();
  }
}

async function execute(ctx: HostContext, a: Exclude<Action, { kind: 'notify' | 'put' }>, stepName: string): Promise<void> {
  switch (a.kind) {
    case 'run':
      await ctx.run(a.command, {
        user: a.user,
        stdin: a.stdin,
        timeoutMs: a.timeoutMs,
        quiet: true,
        onOutput: a.progress && progressEvents(ctx, a.progress, stepName),
      });
      return;
    case 'sql':
      await psql(ctx, a.port, a.sql, a.db, { quiet: true });
      return;
    case 'service': {
      const result = await ctx.run(a.command, { user: a.user, allowFailure: true, quiet: true });
      if (result.code === 0) return;
      const log = a.diagnose ? (await ctx.run(a.diagnose, { allowFailure: true, quiet: true })).stdout : '';
      throw new Error(ctx.secrets.mask(`${a.action} of ${a.service} failed: ${result.stderr.trim()}${log ? `\n${log}` : ''}`));
    }
    case 'call':
      await a.fn(ctx);
      return;
  }
}

/** Output of a long command read for progress: an event per host and step about once a second, and at the end. */
function progressEvents(ctx: HostContext, kind: ProgressKind, step: string): (stream: 'stdout' | 'stderr', chunk: string) => void {
  const parser = progressParser(kind);
  const meter = new ProgressMeter();
  return (stream, chunk) => {
    const sample = parser.feed(stream, chunk);
    if (!sample) return;
    const r = meter.reading(sample);
    if (!meter.due(r)) return;
    const { final: _final, ...shown } = r;
    ctx.reporter.emit({ type: 'progress', host: ctx.host, step, ...shown });
  };
}
