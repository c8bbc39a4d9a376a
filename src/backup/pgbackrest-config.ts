import { quote } from '../connection/shell.js';

/*
 * pgbackrest.conf for the repository host and for each PostgreSQL member, and the archive_command /
 * restore_command that go with them. Pure: plain inputs in, file text out (roles write it, the
 * tests read it). Layout and reasons: docs/pgbackrest-notes.md. Checked against pgBackRest 2.45
 * (Debian 12), whose option names and behaviour the comments below refer to.
 */

/** Upstream's default path: read before Debian's /etc/pgbackrest.conf, which is then ignored (parse.c). */
export const PGBACKREST_CONF = '/etc/pgbackrest/pgbackrest.conf';
export const CERT_DIR = '/etc/pgbackrest/cert';
/** Debian's package creates it, owned by postgres 0750. */
export const DEFAULT_REPO_PATH = '/var/lib/pgbackrest';
export const DEFAULT_TLS_PORT = 8432;
export const SOCKET_DIR = '/var/run/postgresql';
/** The CN of the repository host's client certificate: db hosts authorize it for their stanza. */
export const REPO_CLIENT_CN = 'pgtasks-repo';

/** The CN of the client certificate every member of a cluster presents to the repository host. */
export function clusterClientCn(cluster: string): string {
  return `pgtasks-${cluster}`;
}

/** Debian's data directory for a cluster (pg_createcluster's layout, as the config template uses). */
export function debianDataDir(version: number, cluster: string): string {
  return `/var/lib/postgresql/${version}/${cluster}`;
}

export interface TlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** Where certificates live on every host: the server pair (CN and SAN = the host's address) and the client pair. */
export const DEFAULT_TLS = {
  server: { caFile: `${CERT_DIR}/ca.crt`, certFile: `${CERT_DIR}/server.crt`, keyFile: `${CERT_DIR}/server.key` },
  client: { caFile: `${CERT_DIR}/ca.crt`, certFile: `${CERT_DIR}/client.crt`, keyFile: `${CERT_DIR}/client.key` },
} as const satisfies Record<'server' | 'client', TlsFiles>;

export interface TlsPair {
  server: TlsFiles;
  client: TlsFiles;
}

export interface Endpoint {
  host: string;
  /** What pgBackRest connects to: its server certificate must name it (as a DNS SAN in 2.45, even an IP). */
  address: string;
}

export interface Retention {
  /** repo1-retention-full: full backups kept (count). */
  full: number;
  /** repo1-retention-diff: differential backups kept; pgBackRest's default (= full) when unset. */
  diff?: number;
}

/** One cluster as the repository host sees it: one stanza, named as the cluster. */
export interface StanzaInput {
  cluster: string;
  version: number;
  port: number;
  /** Every present member, any role: pgBackRest finds the primary itself, so a switchover changes nothing here. */
  members: Endpoint[];
  retention: Retention;
  /** repo1-cipher-pass for this stanza (aes-256-cbc); undefined leaves the stanza unencrypted. */
  cipherPass?: string;
  /** Override Debian's data directory and socket directory (tests, unusual layouts). */
  dataDir?: string;
  socketPath?: string;
}

type OptionValue = string | number | boolean;

export interface RepoConfigInput {
  stanzas: StanzaInput[];
  repoPath?: string;
  /** The TLS port of every server, this host's and the members' (pgBackRest's default: 8432). */
  tlsPort?: number;
  tls?: TlsPair;
  /**
   * Extra client CNs and the stanzas they may use besides their own: restore-cluster --into NEW lets
   * NEW's members read the source cluster's stanza for the time of the restore.
   */
  grants?: { clientCn: string; stanzas: string[] }[];
  /** gz is pgBackRest's default; zst compresses as well at a fraction of the CPU. */
  compressType?: 'gz' | 'lz4' | 'zst' | 'bz2' | 'none';
  processMax?: number;
  /** More [global] options, written last (log-path, lock-path, ...). */
  extraGlobal?: Record<string, OptionValue>;
}

export interface MemberConfigInput {
  cluster: string;
  version: number;
  port: number;
  repo: Endpoint;
  tlsPort?: number;
  tls?: TlsPair;
  /** Off by default: synchronous archive-push is simpler to reason about and enough for most write rates. */
  archiveAsync?: boolean;
  spoolPath?: string;
  /** archive-push-queue-max (bytes): past it, WAL is DROPPED from the archive to keep pg_wal from filling the disk. */
  archivePushQueueMax?: number;
  /** Must match the repository host's: archive-push compresses here, with this host's setting. */
  compressType?: RepoConfigInput['compressType'];
  dataDir?: string;
  socketPath?: string;
  extraGlobal?: Record<string, OptionValue>;
}

/** Stanza names reach section headers, tls-server-auth lists (comma-separated) and command lines. */
const STANZA_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

function checkStanza(name: string): string {
  if (!STANZA_NAME.test(name)) throw new Error(`pgBackRest stanza name ${JSON.stringify(name)}: letters, digits, '.', '-' and '_' only`);
  return name;
}

/** One `key=value` line; a value with a newline would inject options, so it is refused rather than escaped. */
function line(key: string, value: OptionValue): string {
  const text = typeof value === 'boolean' ? (value ? 'y' : 'n') : String(value);
  if (/[\r\n]/.test(text) || text.trim() !== text || text === '')
    throw new Error(`pgbackrest.conf ${key}: the value must be one non-empty line without surrounding blanks`);
  return `${key}=${text}`;
}

function section(name: string, options: [string, OptionValue | undefined][]): string {
  const lines = options.filter((o): o is [string, OptionValue] => o[1] !== undefined).map(([k, v]) => line(k, v));
  return `[${name}]\n${lines.join('\n')}\n`;
}

/**
 * tls-server-auth lines, one per client CN: when a CN is repeated, the last line wins (a hash option;
 * pgbackrest/pgbackrest#2591), so stanzas of the same CN are merged into one comma-separated list.
 */
export function tlsServerAuth(grants: { clientCn: string; stanzas: string[] }[]): [string, string][] {
  const byCn = new Map<string, Set<string>>();
  for (const g of grants) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(g.clientCn))
      throw new Error(`client certificate CN ${JSON.stringify(g.clientCn)}: letters, digits, '.', '-' and '_' only`);
    const set = byCn.get(g.clientCn) ?? new Set<string>();
    for (const s of g.stanzas) set.add(checkStanza(s));
    byCn.set(g.clientCn, set);
  }
  return [...byCn]
    .filter(([, stanzas]) => stanzas.size > 0)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([cn, stanzas]) => ['tls-server-auth', `${cn}=${[...stanzas].sort().join(',')}`]);
}

function tlsServerOptions(port: number, files: TlsFiles, auth: [string, string][]): [string, OptionValue][] {
  return [
    // Every address: members and the repository host reach each other on their inventory addresses.
    ['tls-server-address', '*'],
    ['tls-server-port', port],
    ['tls-server-ca-file', files.caFile],
    ['tls-server-cert-file', files.certFile],
    ['tls-server-key-file', files.keyFile],
    ...auth,
  ];
}

const HEADER = '# Managed by pgtasks: edits here are replaced on the next run.\n';

/**
 * The repository host's file: repo options and its TLS server in [global], then one stanza per
 * cluster listing every member as pgN-host (N in inventory order: pgBackRest tells primary from
 * standby by asking each, and backup-standby takes the first standby it finds running).
 */
export function renderRepoConfig(input: RepoConfigInput): string {
  const tls = input.tls ?? DEFAULT_TLS;
  const port = input.tlsPort ?? DEFAULT_TLS_PORT;
  const names = input.stanzas.map((s) => checkStanza(s.cluster));
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new Error(`pgbackrest.conf: stanza ${dup} is given twice`);
  const auth = tlsServerAuth([...input.stanzas.map((s) => ({ clientCn: clusterClientCn(s.cluster), stanzas: [s.cluster] })), ...(input.grants ?? [])]);
  const global = section('global', [
    ['repo1-path', input.repoPath ?? DEFAULT_REPO_PATH],
    // The cipher type is repo-wide in spirit but each stanza has its own pass (its cluster's credentials).
    ['start-fast', true],
    ['compress-type', input.compressType],
    ['process-max', input.processMax],
    ['log-level-console', 'warn'],
    ['log-level-file', 'info'],
    ...tlsServerOptions(port, tls.server, auth),
    ...Object.entries(input.extraGlobal ?? {}),
  ]);
  const stanzas = input.stanzas.map((s) => {
    if (s.members.length === 0) throw new Error(`pgbackrest.conf: stanza ${s.cluster} has no member`);
    const members = s.members.flatMap((m, i): [string, OptionValue][] => {
      const pg = `pg${i + 1}`;
      return [
        [`${pg}-host`, m.address],
        [`${pg}-host-type`, 'tls'],
        [`${pg}-host-port`, port],
        [`${pg}-host-ca-file`, tls.client.caFile],
        [`${pg}-host-cert-file`, tls.client.certFile],
        [`${pg}-host-key-file`, tls.client.keyFile],
        // Sent to the member's remote with every request: these, not the member's own file, are what backup uses.
        [`${pg}-path`, s.dataDir ?? debianDataDir(s.version, s.cluster)],
        [`${pg}-port`, s.port],
        [`${pg}-socket-path`, s.socketPath ?? SOCKET_DIR],
      ];
    });
    return section(s.cluster, [
      ['repo1-retention-full', s.retention.full],
      ['repo1-retention-diff', s.retention.diff],
      ['repo1-cipher-type', s.cipherPass === undefined ? undefined : 'aes-256-cbc'],
      ['repo1-cipher-pass', s.cipherPass],
      ...members,
    ]);
  });
  return [HEADER + global, ...stanzas].join('\n');
}

/**
 * A member's file: where the repository is (repo1-host over TLS, no cipher: pgBackRest asks the
 * repository host for it), this cluster's stanza with the local data directory for archive-push,
 * archive-get and restore, and the member's TLS server through which the repository host backs it up.
 */
export function renderMemberConfig(input: MemberConfigInput): string {
  const tls = input.tls ?? DEFAULT_TLS;
  const port = input.tlsPort ?? DEFAULT_TLS_PORT;
  const stanza = checkStanza(input.cluster);
  const global = section('global', [
    ['repo1-host', input.repo.address],
    ['repo1-host-type', 'tls'],
    ['repo1-host-port', port],
    ['repo1-host-ca-file', tls.client.caFile],
    ['repo1-host-cert-file', tls.client.certFile],
    ['repo1-host-key-file', tls.client.keyFile],
    // No repo1-path here: a client's repo options override the repository host's own on its remote.
    ['compress-type', input.compressType],
    ['archive-async', input.archiveAsync ?? false],
    ['spool-path', input.archiveAsync ? input.spoolPath : undefined],
    ['archive-push-queue-max', input.archivePushQueueMax],
    ['log-level-console', 'warn'],
    ['log-level-file', 'info'],
    ...tlsServerOptions(port, tls.server, tlsServerAuth([{ clientCn: REPO_CLIENT_CN, stanzas: [stanza] }])),
    ...Object.entries(input.extraGlobal ?? {}),
  ]);
  const local = section(stanza, [
    ['pg1-path', input.dataDir ?? debianDataDir(input.version, input.cluster)],
    ['pg1-port', input.port],
    ['pg1-socket-path', input.socketPath ?? SOCKET_DIR],
  ]);
  return `${HEADER}${global}\n${local}`;
}

/**
 * archive_command, the same on every member: with archive_mode=on only the primary runs it, so a
 * switchover needs no change. (archive_mode=always is refused by pgBackRest's checks: a standby's copy
 * of a segment may differ in checksum from the primary's.)
 */
export function archiveCommand(stanza: string): string {
  return `pgbackrest --stanza=${quote(checkStanza(stanza))} archive-push %p`;
}

/**
 * restore_command. pgBackRest's archive-get reads pg_control under pg1-path, so a restore into another
 * cluster (another stanza in the member's file) or into a side directory renamed afterwards must name
 * the final data directory here rather than rely on what restore writes.
 */
export function restoreCommand(stanza: string, pgPath?: string): string {
  const path = pgPath === undefined ? '' : ` --pg1-path=${quote(pgPath)}`;
  return `pgbackrest --stanza=${quote(checkStanza(stanza))}${path} archive-get %f "%p"`;
}
