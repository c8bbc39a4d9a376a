/**
 * The public API: what a team's own task file needs, and nothing of the engine's insides.
 *   import { task, z, runSteps, step, ok, change, filesStep, clustersOf, withPrimary, lit, ident, roles } from 'pgtasks';
 * A task gets the run (hosts, inventory, a context per host) and its parsed flags; it changes hosts
 * through steps (plan, then change only what differs; --check and the recap come with them).
 */
export { z } from 'zod';
// Tasks: a name, flags from a zod schema, a function of the run.
export { task, TaskRefused, type Task } from './engine/task.js';
export type { Run } from './engine/run.js';
export type { HostContext } from './engine/host-context.js';
// Steps and facts: plan from what the host says (a read-only view), change only what differs, with
// actions as data (the engine runs them; --check -v prints them).
export { step, runSteps, ok, skip, change, type Plan, type Step } from './engine/step.js';
export { runAction, putAction, sqlAction, notify, call, describeAction, actionData, type Action } from './engine/action.js';
export { reads, type HostView, type ReadCommand } from './engine/host-view.js';
export { fact, gather, type Fact } from './engine/fact.js';
export { filesStep, type FileSpec } from './steps/files.js';
export { systemFact, type SystemFacts } from './facts/system.js';
// Quoting: shell commands and SQL built from values never break out of them.
export { sh, raw, script, and, inline, type Command } from './connection/shell.js';
export { lit, ident, psql, query } from './steps/postgres.js';
// Secrets are the run's: `run.secrets.register(password)` masks it in all of that run's output.
// registerSecret(value) is the older form, kept for existing task files: it registers into the run
// whose task calls it (never a process-wide list), and throws outside a task.
export { registerSecret, type Secrets } from './engine/secrets.js';
export { scramVerifier } from './cluster/scram.js';
// Clusters: the inventory's clusters, and a SQL session on a cluster's running primary.
export { clustersOf, type ClusterSpec, type Member } from './cluster/vars.js';
export { openPrimary, withPrimary, type PrimarySession } from './cluster/primary-session.js';
export type { PgSession } from './steps/pg-client.js';
// The roles configure-cluster is made of, and the built-in tasks, to compose your own.
// Team task files that change a cluster take its lock, as the built-in tasks do.
export { withClusterLock } from './cluster/lock.js';
export * as roles from '../roles/index.js';
export { builtinTasks } from '../tasks/index.js';
