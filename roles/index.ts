/**
 * The roles configure-cluster is made of, each idempotent, for teams composing their own tasks:
 *   import { roles } from 'pgtasks';  await runSteps(ctx, roles.installRole(16));
 */
export { configureCluster, planFromHosts } from './cluster.js';
export { installRole } from './install.js';
export { configRole, configFiles, notifying } from './config.js';
export { primaryRole, promoteStep, bootstrapStep, rolesStep, slotsStep } from './primary.js';
export { replicaRole, cloneStep } from './replica.js';
export { serviceRole, serviceAction, isRunning } from './service.js';
export { syncRole, syncSetting } from './sync.js';
export { deactivateRole } from './deactivate.js';
export { registerRole, registerPrimary } from './register.js';
export { pgbouncerRole, pgbouncerFiles, readUserlist, userlist } from './pgbouncer.js';
export {
  startBackupPhase,
  backupMaterial,
  repoHostRole,
  memberBackupRole,
  stanzaStep,
  archivingStep,
  scheduleStep,
  clustersOnRepo,
  repoStanzaNames,
  repoStanzas,
  readStanza,
} from './backup.js';
