import type { Command } from '../connection/shell.js';
import type { CommandResult } from '../connection/types.js';
import type { HostContextOptions } from './host-context.js';

declare const readBrand: unique symbol;

/**
 * A command that only reads state (a fact, a probe, a read-only query): the only kind a plan can run.
 * Declared where it is built, with reads(); a plan has no way to run anything else.
 */
export type ReadCommand = Command & { readonly [readBrand]: true };

/** Declares `command` as reading state only (facts, stat, cat, SELECT in a read-only transaction). */
export function reads(command: Command): ReadCommand {
  return command as ReadCommand;
}

export interface ReadOptions {
  user?: string;
  stdin?: string;
  timeoutMs?: number;
  /** Return a non-zero exit instead of failing (a probe that reports absence by its exit code). */
  allowFailure?: boolean;
}

/**
 * What a step's plan sees of a host: its name, variables, the run's mode, the facts read so far and
 * the handlers notified so far, and a way to read more. Nothing here writes: a plan cannot change a
 * host, in check mode or not. Changes are the actions the plan returns, run by the engine.
 */
export interface HostView {
  readonly host: string;
  readonly vars: Record<string, unknown>;
  readonly check: boolean;
  readonly options: Readonly<HostContextOptions>;
  /** Facts gathered this run by name (a cache: gathering fills it). */
  readonly facts: Map<string, unknown>;
  /** Handlers notified on this host so far (Ansible's notify), in check mode too: asked, never changed here. */
  readonly notified: { has(handler: string): boolean };
  read(command: ReadCommand, options?: ReadOptions): Promise<CommandResult>;
  /** A warning or note about this host (masked like all output). */
  message(text: string): void;
}
