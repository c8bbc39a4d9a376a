/**
 * The public API for a team's own task file:
 *   import { task, step, runSteps, z } from 'pgtasks';
 */
export { z } from 'zod';
export { task, TaskRefused, type Task } from './engine/task.js';
export { step, runStep, runSteps, ok, skip, change, type Plan, type Step } from './engine/step.js';
export { fact, gather, forget, type Fact } from './engine/fact.js';
export { HostContext, CommandError } from './engine/host-context.js';
export { Run, type RunOptions } from './engine/run.js';
export { registerSecret, mask } from './engine/secrets.js';
export { sh, raw, script, and, inline, type Command } from './connection/shell.js';
export type { Connection, CommandResult } from './connection/types.js';
export { systemFact } from './facts/system.js';
export { pgClustersFact } from './facts/pg-clusters.js';
export { filesStep, type FileSpec } from './steps/files.js';
export { psql } from './steps/postgres.js';
export { clustersOf, type ClusterSpec, type Member } from './cluster/vars.js';
export { withClusterLock } from './cluster/lock.js';
export { pgNodeFact, type PgNodeFacts } from './facts/postgres.js';
export * as roles from '../roles/index.js';
export { builtinTasks } from '../tasks/index.js';
