import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Secrets } from '../engine/secrets.js';
import { CREDENTIALS_MARKER } from '../inventory/sources.js';

export interface Credentials {
  admin: string;
  replicator: string;
  /** True when this run generated them (the cluster is new): the end of the run prints how to connect. */
  created: boolean;
  dir: string;
}

export const ADMIN_USER = 'admin';
export const REPLICATION_USER = 'replicator';

async function readSecret(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim() || undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * The cluster's passwords, generated once and kept locally under <dir>/<cluster>/ (0700 dir, 0600
 * files), reused on every run. In check mode missing ones are invented but not written. Both are
 * registered in `secrets` (the run's), so they are masked in all of that run's output.
 */
export async function clusterCredentials(baseDir: string, cluster: string, write: boolean, secrets: Secrets): Promise<Credentials> {
  const dir = resolve(baseDir, cluster);
  const files = { admin: join(dir, `${ADMIN_USER}.password`), replicator: join(dir, `${REPLICATION_USER}.password`) };
  let created = false;
  const values: Record<string, string> = {};
  for (const [key, file] of Object.entries(files)) {
    let value = await readSecret(file);
    if (!value) {
      value = randomBytes(24).toString('base64url');
      created = true;
      if (write) {
        await mkdir(dir, { recursive: true, mode: 0o700 });
        await chmod(dir, 0o700);
        // Marks the folder so a directory inventory around it never reads the passwords as inventory.
        await writeFile(join(resolve(baseDir), CREDENTIALS_MARKER), '', { mode: 0o600 });
        await writeFile(file, `${value}\n`, { mode: 0o600, flag: 'wx' });
      }
    }
    await chmod(file, 0o600).catch(() => {});
    values[key] = secrets.register(value);
  }
  return { admin: values.admin!, replicator: values.replicator!, created, dir };
}
