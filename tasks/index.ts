import type { Task } from '../src/engine/task.js';
import backupList from './backup-list.js';
import backup from './backup.js';
import configureCluster from './configure-cluster.js';
import facts from './facts.js';
import failover from './failover.js';
import rejoin from './rejoin.js';
import dbCreate from './db-create.js';
import userCreate from './user-create.js';
import userDelete from './user-delete.js';
import userPassword from './user-password.js';
import infoList from './info-list.js';
import inventory from './inventory.js';
import migrateToMaster from './migrate-to-master.js';
import restoreCluster from './restore-cluster.js';
import rotatePasswords from './rotate-passwords.js';

/** The built-in tasks, one module each in this folder. */
export const builtinTasks: Task[] = [
  backup,
  backupList,
  configureCluster,
  dbCreate,
  facts,
  failover,
  infoList,
  inventory,
  migrateToMaster,
  rejoin,
  restoreCluster,
  rotatePasswords,
  userCreate,
  userDelete,
  userPassword,
] as Task[];
