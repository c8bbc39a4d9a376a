import { raw, script, sh, type Command } from '../connection/shell.js';
import { reads, type HostView } from './host-view.js';

/**
 * A fact is a read-only shell snippet plus a parser of its output (pyinfra's model). Facts are
 * gathered together: gather() runs every requested fact in ONE command, split by markers.
 */
export interface Fact<T> {
  name: string;
  /** Must only read state; its exit code is ignored, so it reports absence in its output. */
  command: Command;
  parse(output: string): T;
}

const MARK = '@@pgtasks-fact:';

export function batchScript(facts: Fact<unknown>[]): Command {
  return script(...facts.map((f) => script(sh`echo ${`${MARK}${f.name}`}`, raw('{'), f.command, raw('} 2>&1'))));
}

export function splitBatchOutput(output: string): Map<string, string> {
  const sections = new Map<string, string>();
  let current: string | undefined;
  let lines: string[] = [];
  for (const line of output.split('\n')) {
    if (line.startsWith(MARK)) {
      if (current) sections.set(current, lines.join('\n'));
      current = line.slice(MARK.length);
      lines = [];
    } else if (current) {
      lines.push(line);
    }
  }
  if (current) sections.set(current, lines.join('\n'));
  return sections;
}

/**
 * Gathers the facts not cached yet in one round trip; `refresh` re-reads them all. Returns the values
 * themselves: steps of one host run concurrently, and another step's change clears the cache at any time.
 */
export async function gather(ctx: HostView, facts: Fact<unknown>[], refresh = false): Promise<Map<string, unknown>> {
  const got = new Map<string, unknown>();
  const missing = facts.filter((f) => {
    if (refresh || !ctx.facts.has(f.name)) return true;
    got.set(f.name, ctx.facts.get(f.name));
    return false;
  });
  if (missing.length === 0) return got;
  // Facts read state the host's admin can read; run as the connection's effective user.
  const result = await ctx.read(reads(batchScript(missing)), { allowFailure: true });
  const sections = splitBatchOutput(result.stdout);
  for (const fact of missing) {
    const section = sections.get(fact.name);
    if (section === undefined) throw new Error(`fact ${fact.name} produced no output (exit ${result.code}): ${result.stderr.trim()}`);
    const value = fact.parse(section);
    ctx.facts.set(fact.name, value);
    got.set(fact.name, value);
  }
  return got;
}

export async function fact<T>(ctx: HostView, f: Fact<T>, refresh = false): Promise<T> {
  return (await gather(ctx, [f as Fact<unknown>], refresh)).get(f.name) as T;
}
