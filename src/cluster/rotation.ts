import { readdir, rename, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Run } from '../engine/run.js';
import type { PgNodeFacts } from '../facts/postgres.js';
import { ADMIN_USER, REPLICATION_USER } from './credentials.js';
import { verifierMatches } from './scram.js';
import { readIfThere, usersDir, writeSecretFile } from './user-credentials.js';
import type { ClusterSpec } from './vars.js';

/*
 * Password rotation, the part every cluster task shares: a rotation keeps its new password in
 * <file>.next (0600) BEFORE PostgreSQL gets it, and renames it over <file> only once PostgreSQL took
 * it. A run killed in between leaves a .next file; the next cluster task that reads the facts
 * (gatherCluster) settles it from what the primary holds, so no password is ever lost:
 *
 *   the primary's verifier matches .next  -> PostgreSQL took it: .next becomes the password file
 *                                           (the run then writes pgpass and userlists from it);
 *   it matches the file (or neither)      -> PostgreSQL never took it, and no host was given it
 *                                           (pgpass and userlists are written only after the
 *                                           commit): .next is dropped; the file stays the password
 *                                           (configure-cluster sets it, as it always does);
 *   no running primary to ask             -> undecided: both files stay, the run uses the file.
 */

/** Where a rotation keeps a password PostgreSQL may not have yet. */
export const nextFile = (file: string) => `${file}.next`;

export type ResumeAction = 'promote' | 'drop' | 'undecided';

/**
 * What to do with `<file>.next`: `verifier` is what the cluster's primary stores for the role (''
 * when it has no such login role), undefined when there is no running primary to ask.
 */
export function resumeDecision(verifier: string | undefined, next: string): { action: ResumeAction; why: string } {
  if (verifier === undefined) return { action: 'undecided', why: 'no running primary to ask which password PostgreSQL holds' };
  if (verifierMatches(verifier, next)) return { action: 'promote', why: 'PostgreSQL holds the new password' };
  return { action: 'drop', why: verifier ? 'PostgreSQL never took the new password' : 'the role has no password in PostgreSQL' };
}

/** A password file of the cluster and the login role it belongs to. */
export interface SecretFile {
  role: string;
  file: string;
}

/** The cluster's own password files (admin, replicator) and the users' in <credentials>/<cluster>/users/. */
export function clusterSecretFile(credentialsDir: string, cluster: string, role: string): string {
  return join(resolve(credentialsDir, cluster), `${role}.password`);
}

/** Every `.next` file a rotation left for this cluster. */
export async function pendingRotations(credentialsDir: string, cluster: string): Promise<(SecretFile & { next: string })[]> {
  const out: (SecretFile & { next: string })[] = [];
  for (const role of [ADMIN_USER, REPLICATION_USER]) {
    const file = clusterSecretFile(credentialsDir, cluster, role);
    const next = await readIfThere(nextFile(file));
    if (next) out.push({ role, file, next });
  }
  let names: string[] = [];
  try {
    names = await readdir(usersDir(credentialsDir, cluster));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  for (const name of names.filter((n) => n.endsWith('.password.next')).sort()) {
    const file = join(usersDir(credentialsDir, cluster), name.slice(0, -'.next'.length));
    const next = await readIfThere(nextFile(file));
    if (next) out.push({ role: name.slice(0, -'.password.next'.length), file, next });
  }
  return out;
}

/** Keeps a new password beside the current one (0600, in one rename): the first thing a rotation does. */
export const keepNext = (file: string, password: string) => writeSecretFile(nextFile(file), password);

/** PostgreSQL took the new password: it becomes the password file, in one rename (0600 since it was written). */
export const promoteNext = (file: string) => rename(nextFile(file), file);

export async function dropNext(file: string): Promise<void> {
  await unlink(nextFile(file)).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

/** The running primary among the facts, when there is exactly one. */
export function runningPrimary(facts: Iterable<PgNodeFacts>): PgNodeFacts | undefined {
  const primaries = [...facts].filter((f) => f.state === 'PRIMARY' && f.running);
  return primaries.length === 1 ? primaries[0] : undefined;
}

/**
 * Settles what a killed rotation left (see above), from the facts just read. Called by gatherCluster,
 * so every cluster task (configure-cluster, switchover, failover, rotate-passwords itself) starts from
 * settled files. In check mode it only says what it would do. Never prints a password.
 */
export async function settleInterruptedRotations(run: Run, spec: ClusterSpec, facts: Iterable<PgNodeFacts>): Promise<void> {
  const pending = await pendingRotations(spec.credentialsDir, spec.name);
  if (!pending.length) return;
  const primary = runningPrimary(facts);
  for (const p of pending) {
    const verifier = primary ? (primary.roles.find((r) => r.name === p.role)?.verifier ?? '') : undefined;
    const { action, why } = resumeDecision(verifier, p.next);
    const would = run.options.check ? 'would be ' : '';
    if (action === 'promote') {
      if (!run.options.check) await promoteNext(p.file);
      run.message(`cluster ${spec.name}: an interrupted password rotation of ${p.role} is finished: ${why}; ${nextFile(p.file)} ${would}renamed to ${p.file}`);
    } else if (action === 'drop') {
      if (!run.options.check) await dropNext(p.file);
      run.message(
        `cluster ${spec.name}: an interrupted password rotation of ${p.role} is dropped: ${why}; ${nextFile(p.file)} ${would}removed, ${p.file} stays`,
      );
    } else {
      run.message(
        `cluster ${spec.name}: an interrupted password rotation of ${p.role} is left as it is (${why}): ${nextFile(p.file)} is kept, ${p.file} is used`,
      );
    }
  }
}
