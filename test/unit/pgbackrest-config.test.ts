import { describe, expect, test } from 'vitest';
import {
  archiveCommand,
  clusterClientCn,
  renderMemberConfig,
  renderRepoConfig,
  restoreCommand,
  tlsServerAuth,
  type StanzaInput,
} from '../../src/backup/pgbackrest-config.js';
import { formatTargetTime, restoreArgs } from '../../src/backup/pgbackrest-restore.js';

const demo: StanzaInput = {
  cluster: 'demo',
  version: 15,
  port: 5432,
  members: [
    { host: 'h1', address: '10.231.0.11' },
    { host: 'h2', address: '10.231.0.12' },
  ],
  retention: { full: 2 },
  cipherPass: 'k3y',
};

/** The options of one section, in order, as pgBackRest reads them. */
function sectionOf(conf: string, name: string): string[] {
  const parts = conf.split(/^\[([^\]]+)\]$/m);
  const i = parts.indexOf(name);
  if (i < 0) throw new Error(`no section [${name}]`);
  return parts[i + 1]!.split('\n').filter((l) => l && !l.startsWith('#'));
}

describe('repository host pgbackrest.conf', () => {
  test('one stanza per cluster, every member a TLS pg host with its Debian paths', () => {
    const conf = renderRepoConfig({
      stanzas: [demo, { ...demo, cluster: 'orders', port: 5433, members: [{ host: 'h4', address: 'db4.example.com' }], cipherPass: 'x' }],
    });
    expect(conf.startsWith('# Managed by pgtasks')).toBe(true);
    expect(sectionOf(conf, 'global')).toEqual([
      'repo1-path=/var/lib/pgbackrest',
      'start-fast=y',
      'log-level-console=warn',
      'log-level-file=info',
      'tls-server-address=*',
      'tls-server-port=8432',
      'tls-server-ca-file=/etc/pgbackrest/cert/ca.crt',
      'tls-server-cert-file=/etc/pgbackrest/cert/server.crt',
      'tls-server-key-file=/etc/pgbackrest/cert/server.key',
      'tls-server-auth=pgtasks-demo=demo',
      'tls-server-auth=pgtasks-orders=orders',
    ]);
    const d = sectionOf(conf, 'demo');
    expect(d.slice(0, 3)).toEqual(['repo1-retention-full=2', 'repo1-cipher-type=aes-256-cbc', 'repo1-cipher-pass=k3y']);
    expect(d).toContain('pg1-host=10.231.0.11');
    expect(d).toContain('pg2-host=10.231.0.12');
    expect(d).toContain('pg2-host-type=tls');
    expect(d).toContain('pg2-host-cert-file=/etc/pgbackrest/cert/client.crt');
    expect(d).toContain('pg1-path=/var/lib/postgresql/15/demo');
    expect(d).toContain('pg2-socket-path=/var/run/postgresql');
    expect(d.filter((l) => l.startsWith('pg3-'))).toEqual([]);
    expect(sectionOf(conf, 'orders')).toContain('pg1-port=5433');
    expect(sectionOf(conf, 'orders')).toContain('pg1-host=db4.example.com');
  });

  test('no cipher pass: the stanza is written unencrypted; diff retention and options when given', () => {
    const conf = renderRepoConfig({
      stanzas: [{ ...demo, cipherPass: undefined, retention: { full: 3, diff: 6 } }],
      compressType: 'zst',
      processMax: 4,
      tlsPort: 8500,
      extraGlobal: { 'log-path': '/srv/log' },
    });
    expect(conf).not.toMatch(/cipher/);
    expect(sectionOf(conf, 'demo').slice(0, 2)).toEqual(['repo1-retention-full=3', 'repo1-retention-diff=6']);
    expect(sectionOf(conf, 'global')).toEqual(expect.arrayContaining(['compress-type=zst', 'process-max=4', 'tls-server-port=8500', 'log-path=/srv/log']));
    expect(sectionOf(conf, 'demo')).toContain('pg2-host-port=8500');
  });

  test('a restore grant joins the stanza list of its CN (a repeated CN line would replace the first)', () => {
    const conf = renderRepoConfig({
      stanzas: [demo, { ...demo, cluster: 'rehearsal' }],
      grants: [{ clientCn: clusterClientCn('rehearsal'), stanzas: ['demo'] }],
    });
    expect(sectionOf(conf, 'global').filter((l) => l.startsWith('tls-server-auth'))).toEqual([
      'tls-server-auth=pgtasks-demo=demo',
      'tls-server-auth=pgtasks-rehearsal=demo,rehearsal',
    ]);
    expect(tlsServerAuth([{ clientCn: 'a', stanzas: [] }])).toEqual([]);
  });

  test('refuses what would break the file or the auth lists', () => {
    expect(() => renderRepoConfig({ stanzas: [{ ...demo, cipherPass: 'a\nrepo1-path=/tmp' }] })).toThrow(/one non-empty line/);
    expect(() => renderRepoConfig({ stanzas: [{ ...demo, cluster: 'a,b' }] })).toThrow(/stanza name/);
    expect(() => renderRepoConfig({ stanzas: [demo, demo] })).toThrow(/given twice/);
    expect(() => renderRepoConfig({ stanzas: [{ ...demo, members: [] }] })).toThrow(/no member/);
    expect(() => renderRepoConfig({ stanzas: [demo], grants: [{ clientCn: 'x=y', stanzas: ['demo'] }] })).toThrow(/CN/);
  });
});

describe('member pgbackrest.conf', () => {
  test('repo over TLS without cipher, the local stanza, and a TLS server for the repository host only', () => {
    const conf = renderMemberConfig({ cluster: 'demo', version: 15, port: 5432, repo: { host: 'backup1', address: '10.231.0.20' } });
    expect(sectionOf(conf, 'global')).toEqual([
      'repo1-host=10.231.0.20',
      'repo1-host-type=tls',
      'repo1-host-port=8432',
      'repo1-host-ca-file=/etc/pgbackrest/cert/ca.crt',
      'repo1-host-cert-file=/etc/pgbackrest/cert/client.crt',
      'repo1-host-key-file=/etc/pgbackrest/cert/client.key',
      'archive-async=n',
      'log-level-console=warn',
      'log-level-file=info',
      'tls-server-address=*',
      'tls-server-port=8432',
      'tls-server-ca-file=/etc/pgbackrest/cert/ca.crt',
      'tls-server-cert-file=/etc/pgbackrest/cert/server.crt',
      'tls-server-key-file=/etc/pgbackrest/cert/server.key',
      'tls-server-auth=pgtasks-repo=demo',
    ]);
    expect(sectionOf(conf, 'demo')).toEqual(['pg1-path=/var/lib/postgresql/15/demo', 'pg1-port=5432', 'pg1-socket-path=/var/run/postgresql']);
    expect(conf).not.toMatch(/cipher|repo1-path/);
  });

  test('asynchronous archiving brings its spool path; the queue limit is written only when chosen', () => {
    const conf = renderMemberConfig({
      cluster: 'demo',
      version: 16,
      port: 5433,
      repo: { host: 'b', address: 'b.example.com' },
      archiveAsync: true,
      spoolPath: '/var/spool/pgbackrest',
      archivePushQueueMax: 4 * 1024 ** 3,
      compressType: 'zst',
    });
    expect(sectionOf(conf, 'global')).toEqual(
      expect.arrayContaining(['archive-async=y', 'spool-path=/var/spool/pgbackrest', 'archive-push-queue-max=4294967296', 'compress-type=zst']),
    );
    expect(renderMemberConfig({ cluster: 'demo', version: 16, port: 5433, repo: { host: 'b', address: 'b' }, spoolPath: '/s' })).not.toMatch(/spool-path/);
  });
});

describe('archive and restore commands', () => {
  test('the same archive_command on every member; restore_command naming the data directory when asked', () => {
    expect(archiveCommand('demo')).toBe('pgbackrest --stanza=demo archive-push %p');
    expect(restoreCommand('demo')).toBe('pgbackrest --stanza=demo archive-get %f "%p"');
    expect(restoreCommand('demo', '/var/lib/postgresql/15/rehearsal')).toBe(
      'pgbackrest --stanza=demo --pg1-path=/var/lib/postgresql/15/rehearsal archive-get %f "%p"',
    );
    expect(restoreCommand('demo', '/srv/my data')).toBe(`pgbackrest --stanza=demo --pg1-path='/srv/my data' archive-get %f "%p"`);
    expect(() => archiveCommand('x y')).toThrow(/stanza name/);
  });

  test('target times in the one format pgBackRest parses, in UTC', () => {
    expect(formatTargetTime(new Date('2025-06-01T09:12:44.123Z'))).toBe('2025-06-01 09:12:44.123+00');
    expect(formatTargetTime(new Date('2025-06-01T11:12:44+02:00'))).toBe('2025-06-01 09:12:44.000+00');
    expect(() => formatTargetTime(new Date('nonsense'))).toThrow(/valid time/);
  });

  test('restore arguments per target', () => {
    const base = { stanza: 'demo', restorePath: '/var/lib/postgresql/15/new.pgtasks-restore', finalPath: '/var/lib/postgresql/15/new' };
    const rc = '--recovery-option=restore_command=pgbackrest --stanza=demo --pg1-path=/var/lib/postgresql/15/new archive-get %f "%p"';
    expect(restoreArgs({ ...base, target: { kind: 'time', time: new Date('2025-06-01T09:12:44Z') } })).toEqual([
      '--stanza=demo',
      '--pg1-path=/var/lib/postgresql/15/new.pgtasks-restore',
      '--type=time',
      '--target=2025-06-01 09:12:44.000+00',
      '--target-action=promote',
      rc,
      'restore',
    ]);
    expect(restoreArgs({ ...base, target: { kind: 'lsn', lsn: '0/3000028' } }).slice(2, 5)).toEqual([
      '--type=lsn',
      '--target=0/3000028',
      '--target-action=promote',
    ]);
    expect(restoreArgs({ ...base, target: { kind: 'immediate' } }).slice(2, 4)).toEqual(['--type=immediate', '--target-action=promote']);
    expect(restoreArgs({ ...base, target: { kind: 'latest' }, delta: true }).slice(2)).toEqual(['--delta', rc, 'restore']);
    expect(restoreArgs({ stanza: 'demo', restorePath: '/d', target: { kind: 'latest' }, standby: true })).toContain('--type=standby');
    expect(() => restoreArgs({ ...base, target: { kind: 'lsn', lsn: '3000028' } })).toThrow(/not an LSN/);
    expect(() => restoreArgs({ ...base, target: { kind: 'immediate' }, standby: true })).toThrow(/standby/);
  });
});
