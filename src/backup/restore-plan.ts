import type { MemberFacts } from '../cluster/plan.js';
import type { ClusterSpec, Member } from '../cluster/vars.js';
import { dataDir } from '../facts/postgres.js';
import { clusterClientCn } from './pgbackrest-config.js';
import type { BackupSummary, StanzaSummary } from './pgbackrest-info.js';
import { restoreArgs, type RestoreTarget } from './pgbackrest-restore.js';
import { checkTarget, describeTarget, type ArchiveEnd } from './restore-target.js';

/*
 * restore-cluster's decision, from what was read before anything changes: refuse (with the reason), or
 * what to do where. Pure: tested from fixtures. roles/restore.ts carries it out.
 */

export interface RestorePlanInput {
  source: ClusterSpec;
  /** The cluster restored into; undefined: in place (the source itself). */
  into?: ClusterSpec;
  /** Facts of the cluster restored into (NEW's members, or the source's own for --in-place). */
  facts: MemberFacts[];
  /** The source's stanza as the repository host lists it, or why it could not be read. */
  stanza?: StanzaSummary;
  stanzaError?: string;
  target: RestoreTarget;
  /** How far the archive surely reaches (a WAL switch on the source's running primary); undefined when none runs. */
  archiveEnd?: ArchiveEnd;
  /** --yes (required in place: it replaces the cluster's data). */
  yes: boolean;
  now: Date;
}

export interface AsideMove {
  host: string;
  from: string;
  to: string;
  /** It ran before the restore: started again if the restore fails and the directory comes back. */
  wasRunning: boolean;
}

export interface RestorePlan {
  /** The cluster whose data directory is restored (NEW, or the source in place). */
  cluster: ClusterSpec;
  inPlace: boolean;
  /** Where the restore runs: the cluster's primary to be. */
  host: Member;
  version: number;
  dataDir: string;
  /** The side directory pgBackRest writes into; renamed to dataDir once complete. */
  side: string;
  /** pgbackrest's arguments (as postgres on `host`). */
  args: string[];
  /** In place: every member that holds data is stopped and its data directory renamed (never deleted). */
  aside: AsideMove[];
  /** Into NEW: NEW's client certificate may read the source's stanza for the time of the restore. */
  grant?: { clientCn: string; stanzas: string[] };
  backup: BackupSummary;
  /** What the run says before it starts. */
  message: string;
  notes: string[];
}

export type RestoreDecision = { refusal: string } | RestorePlan;

/** `20250601T091244`: for renamed directories (sorts by time, no characters a shell or a glob minds). */
export function stamp(now: Date): string {
  return now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
}

const hasData = (f: MemberFacts) => f.facts && (f.facts.state === 'PRIMARY' || f.facts.state === 'REPLICA' || f.facts.state === 'UNKNOWN');

function describeData(m: MemberFacts): string {
  const f = m.facts!;
  if (f.state === 'UNKNOWN') return `${m.member.host}: ${f.detail ?? 'its data directory is not empty'}`;
  return `${m.member.host} holds ${f.state === 'PRIMARY' ? 'a primary' : 'a replica'}'s data (system identifier ${f.systemIdentifier ?? '?'}${f.running ? ', running' : ''})`;
}

export function planRestore(i: RestorePlanInput): RestoreDecision {
  const refuse = (why: string): RestoreDecision => ({ refusal: `${why}; nothing was changed` });
  const src = i.source;
  if (!src.backup) return refuse(`cluster ${src.name} has no pg_backup: there is no backup to restore from`);
  const inPlace = i.into === undefined;
  const cluster = i.into ?? src;
  if (!inPlace) {
    const into = i.into!;
    if (into.name === src.name) return refuse(`--into ${into.name} is the source cluster itself: restore it with --in-place --yes`);
    if (!into.backup)
      return refuse(
        `cluster ${into.name} has no pg_backup: give it one on ${src.backup.repo_host} (pg_backup: {provider: pgbackrest, repo_host: ${src.backup.repo_host}}); it restores through the repository and gets its own stanza`,
      );
    if (into.backup.repo_host !== src.backup.repo_host)
      return refuse(
        `cluster ${into.name} backs up to ${into.backup.repo_host}, ${src.name} to ${src.backup.repo_host}: a restore reads the source's repository, so pg_backup.repo_host must be the same`,
      );
    if (into.credentialsDir !== src.credentialsDir)
      return refuse(
        `clusters ${src.name} and ${into.name} keep their credentials in different folders: the repository's CA is kept there; give them the same pg_credentials_dir`,
      );
  } else if (!i.yes) {
    return refuse(
      `restore-cluster --in-place stops every member of ${src.name}, renames their data directories (kept, never deleted) and restores the primary from the repository: add --yes`,
    );
  }
  if (i.stanzaError !== undefined || !i.stanza) return refuse(`repository host ${src.backup.repo_host}: ${i.stanzaError ?? 'no answer'}`);
  const checked = checkTarget(i.stanza, i.target, i.archiveEnd);
  if (!checked.ok) return refuse(`cluster ${src.name}: ${checked.refusal}`);

  const present = i.facts.filter((m) => m.member.vars.pg_state === 'present');
  const lost = i.facts.filter((m) => !m.facts || m.facts.unreadable);
  if (lost.length) return refuse(lost.map((m) => `${m.member.host}: ${m.unreachable ?? m.facts?.detail ?? 'no facts'}`).join('; '));
  if (!present.length) return refuse(`cluster ${cluster.name} has no member with pg_state: present`);
  const version = present[0]!.facts!.version;
  if (i.stanza.pgVersion && Number(i.stanza.pgVersion) !== version)
    return refuse(
      `stanza ${src.name} holds PostgreSQL ${i.stanza.pgVersion} backups but cluster ${cluster.name} runs ${version}: set pg_version: ${i.stanza.pgVersion}`,
    );

  const notes = checked.note ? [checked.note] : [];
  let host: Member;
  const aside: AsideMove[] = [];
  const dir = dataDir(version, cluster.name);
  const suffix = `before-restore-${stamp(i.now)}`;
  if (!inPlace) {
    const holding = i.facts.filter(hasData);
    if (holding.length)
      return refuse(
        `cluster ${cluster.name}'s hosts hold data (${holding.map(describeData).join('; ')}): a restore --into needs empty hosts; pick another cluster, or move that data aside yourself`,
      );
    host = (present.find((m) => m.member.vars.pg_primary) ?? present[0]!).member;
  } else {
    const ids = new Set(i.facts.flatMap((m) => (m.facts?.systemIdentifier ? [m.facts.systemIdentifier] : [])));
    if (i.stanza.systemId && [...ids].some((id) => id !== i.stanza!.systemId))
      notes.push(`a member holds data of another system identifier than stanza ${src.name} (${i.stanza.systemId}): it is renamed aside like the others`);
    const primaries = present.filter((m) => m.facts!.state === 'PRIMARY').sort((a, b) => Number(b.facts!.running) - Number(a.facts!.running));
    host = (primaries[0] ?? present.find((m) => m.member.vars.pg_primary) ?? present[0]!).member;
    for (const m of i.facts.filter(hasData))
      aside.push({ host: m.member.host, from: dir, to: `${dir}.${suffix}`, wasRunning: m.facts!.running && m.facts!.state !== 'UNKNOWN' });
  }
  const args = restoreArgs({
    stanza: src.name,
    target: i.target,
    restorePath: `${dir}.pgtasks-restore`,
    finalPath: dir,
    set: i.target.kind === 'lsn' && checked.backup.label !== i.stanza.backups[i.stanza.backups.length - 1]!.label ? checked.backup.label : undefined,
  });
  const what = `${describeTarget(i.target)}, from backup ${checked.backup.label} (${checked.backup.type}, ended ${checked.backup.stop.toISOString()})`;
  const message = inPlace
    ? `restore ${src.name} in place to ${what} on ${host.host}; ${
        aside.length ? `data directories renamed to ${dir}.${suffix} on ${aside.map((a) => a.host).join(', ')}` : 'no member holds data'
      }; then the replicas are rebuilt`
    : `restore ${src.name} into cluster ${cluster.name} to ${what} on ${host.host}; ${src.name} is not touched; then ${cluster.name}'s replicas, PgBouncer and stanza are built`;
  return {
    cluster,
    inPlace,
    host,
    version,
    dataDir: dir,
    side: `${dir}.pgtasks-restore`,
    args,
    aside,
    grant: inPlace ? undefined : { clientCn: clusterClientCn(cluster.name), stanzas: [src.name] },
    backup: checked.backup,
    message,
    notes,
  };
}
