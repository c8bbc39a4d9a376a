import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { z } from 'zod';
import { describe, expect, test } from 'vitest';
import { alterRolesStep, pgpassStep, rotatedUserlist, rotationOrder, userlistStep, type Rotation } from '../../roles/rotate.js';
import { optionsFromSchema } from '../../src/cli/flags.js';
import { keepNext, nextFile, pendingRotations, promoteNext, resumeDecision, settleInterruptedRotations } from '../../src/cluster/rotation.js';
import { scramVerifier, verifierMatches } from '../../src/cluster/scram.js';
import type { Run } from '../../src/engine/run.js';
import type { PgNodeFacts } from '../../src/facts/postgres.js';
import { nodeFacts } from './helpers/node-facts.js';
import { clusterFixture, fixtureView, member, planned } from './helpers/role-fixture.js';

const rotation = (role: string, password: string, file = `/creds/main/${role}.password`): Rotation => ({
  role,
  file,
  password,
  verifier: scramVerifier(password),
});

describe('resume decision: what a killed rotation left in <file>.next, settled from the primary verifier', () => {
  const next = 'new-secret-password';
  test('the primary holds the new password: .next becomes the password file', () => {
    expect(resumeDecision(scramVerifier(next), next).action).toBe('promote');
  });
  test('the primary still holds the old one: PostgreSQL never took the new one, .next is dropped', () => {
    expect(resumeDecision(scramVerifier('old-secret-password'), next).action).toBe('drop');
  });
  test('the role has no password (or is gone): dropped', () => {
    expect(resumeDecision('', next)).toEqual({ action: 'drop', why: 'the role has no password in PostgreSQL' });
  });
  test('no running primary to ask: undecided, both files stay', () => {
    expect(resumeDecision(undefined, next).action).toBe('undecided');
  });
});

describe('settleInterruptedRotations (run by every cluster task right after the facts)', () => {
  function setup() {
    const base = mkdtempSync(join(tmpdir(), 'pgtasks-rotate-'));
    const dir = join(base, 'main');
    mkdirSync(join(dir, 'users'), { recursive: true });
    const write = (path: string, value: string) => writeFileSync(path, `${value}\n`, { mode: 0o600 });
    write(join(dir, 'admin.password'), 'admin-old-pw');
    write(join(dir, 'admin.password.next'), 'admin-new-pw');
    write(join(dir, 'replicator.password'), 'repl-old-pw');
    write(join(dir, 'replicator.password.next'), 'repl-new-pw');
    write(join(dir, 'users', 'app.password'), 'app-old-pw');
    write(join(dir, 'users', 'app.password.next'), 'app-new-pw');
    const messages: string[] = [];
    const run = (check = false) => ({ options: { check }, message: (t: string) => messages.push(t) }) as unknown as Run;
    const spec = { name: 'main', credentialsDir: base } as Parameters<typeof settleInterruptedRotations>[1];
    const read = (p: string) => (existsSync(p) ? readFileSync(p, 'utf8').trim() : undefined);
    return { dir, messages, run, spec, read };
  }
  // Killed after the commit for admin and app (PostgreSQL has their new verifiers), before it for replicator.
  const primary = (): PgNodeFacts =>
    nodeFacts('PRIMARY', {
      roles: [
        { name: 'admin', superuser: true, replication: false, verifier: scramVerifier('admin-new-pw') },
        { name: 'replicator', superuser: false, replication: true, verifier: scramVerifier('repl-old-pw') },
        { name: 'app', superuser: false, replication: false, verifier: scramVerifier('app-new-pw') },
      ],
    });

  test('every .next is found, users included', async () => {
    const { spec } = setup();
    expect((await pendingRotations(spec.credentialsDir, 'main')).map((p) => p.role)).toEqual(['admin', 'replicator', 'app']);
  });

  test('taken by PostgreSQL: renamed over the file (0600); never taken: dropped, the old file stays; no password in any message', async () => {
    const { dir, messages, run, spec, read } = setup();
    await settleInterruptedRotations(run(), spec, [primary(), nodeFacts('REPLICA')]);
    expect(read(join(dir, 'admin.password'))).toBe('admin-new-pw');
    expect(statSync(join(dir, 'admin.password')).mode & 0o777).toBe(0o600);
    expect(read(join(dir, 'users', 'app.password'))).toBe('app-new-pw');
    expect(read(join(dir, 'replicator.password'))).toBe('repl-old-pw');
    for (const f of ['admin.password.next', 'replicator.password.next', 'users/app.password.next']) expect(existsSync(join(dir, f))).toBe(false);
    expect(messages).toHaveLength(3);
    expect(messages[0]).toMatch(/rotation of admin is finished: PostgreSQL holds the new password/);
    expect(messages[1]).toMatch(/rotation of replicator is dropped: PostgreSQL never took the new password/);
    expect(messages.join('\n')).not.toMatch(/-pw/);
  });

  test('no running primary (or two): nothing is decided, both files stay', async () => {
    const { dir, messages, run, spec } = setup();
    await settleInterruptedRotations(run(), spec, [nodeFacts('PRIMARY', { running: false }), nodeFacts('REPLICA')]);
    await settleInterruptedRotations(run(), spec, [primary(), primary()]);
    expect(existsSync(join(dir, 'admin.password.next'))).toBe(true);
    expect(messages[0]).toMatch(/left as it is \(no running primary/);
  });

  test('check mode: says what it would do, changes no file', async () => {
    const { dir, messages, run, spec, read } = setup();
    await settleInterruptedRotations(run(true), spec, [primary()]);
    expect(read(join(dir, 'admin.password'))).toBe('admin-old-pw');
    expect(existsSync(join(dir, 'admin.password.next'))).toBe(true);
    expect(messages[0]).toMatch(/would be renamed/);
  });

  test('keepNext then promoteNext: the password file changes in one rename, 0600 all along', async () => {
    const { dir, read } = setup();
    const file = join(dir, 'users', 'rw.password');
    await keepNext(file, 'rw-new-pw');
    expect(statSync(nextFile(file)).mode & 0o777).toBe(0o600);
    expect(existsSync(file)).toBe(false);
    await promoteNext(file);
    expect(read(file)).toBe('rw-new-pw');
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });
});

describe('rotation steps (the order is the task: .next, one ALTER ROLE transaction, then pgpass/userlists/files at once)', () => {
  const facts = { h1: nodeFacts('PRIMARY'), h2: nodeFacts('REPLICA', { upstream: '10.0.0.1' }) };
  const cc = clusterFixture({ members: [member('h1'), member('h2')], facts });
  const rotations = [rotation('replicator', 'repl-new-secret'), rotation('admin', 'admin-new-secret'), rotation('app', 'app-new-secret')];

  test('one transaction sets every new verifier (never the password), committed as any commit; shown masked', async () => {
    const plan = await planned(alterRolesStep(cc, rotations), fixtureView({ host: 'h1' }));
    expect(plan).toMatchObject({ kind: 'change', summary: 'new password for replicator, admin, app' });
    const [action] = plan.actions as { kind: string; sql: string; shown: string }[];
    const lines = action!.sql.split('\n');
    expect(lines[0]).toBe('BEGIN;');
    expect(lines.at(-1)).toBe('COMMIT;');
    expect(action!.sql).not.toMatch(/synchronous_commit/);
    const verifiers = [...action!.sql.matchAll(/ALTER ROLE "(\w+)" PASSWORD '([^']+)'/g)].map((m) => [m[1], m[2]]);
    expect(verifiers.map((v) => v[0])).toEqual(['replicator', 'admin', 'app']);
    expect(verifierMatches(verifiers[1]![1], 'admin-new-secret')).toBe(true);
    expect(action!.sql).not.toMatch(/new-secret/);
    expect(action!.shown).not.toMatch(/SCRAM/);
    expect(action!.shown).toMatch(/PASSWORD '\*\*\*\*\*\*\*\*'/);
  });

  test('pgpass: the file configure-cluster writes, with the new replication password, 0600 postgres (a walreceiver reads it when it reconnects: no reload)', async () => {
    const plan = await planned(pgpassStep(cc, 'h2', rotations[0]!), fixtureView({ host: 'h2' }));
    expect(plan).toMatchObject({
      kind: 'change',
      actions: [{ kind: 'put', path: '/etc/postgresql/15/main/pgpass', mode: '0600', owner: 'postgres', secret: true, content: '(secret)' }],
    });
    expect(plan.actions).toHaveLength(1);
  });

  test('userlist: every login role kept, the rotated ones (replicator too: configure-cluster lists it) replaced, sorted as configure-cluster writes it', () => {
    const text = rotatedUserlist(
      [
        { name: 'admin', verifier: 'SCRAM-SHA-256$old-admin' },
        { name: 'app', verifier: 'SCRAM-SHA-256$old-app' },
        { name: 'replicator', verifier: 'SCRAM-SHA-256$repl' },
        { name: 'ro', verifier: 'SCRAM-SHA-256$ro' },
      ],
      rotations,
    );
    const lines = text.trim().split('\n');
    expect(lines.map((l) => l.split(' ')[0])).toEqual(['"admin"', '"app"', '"replicator"', '"ro"']);
    expect(lines[0]).toBe(`"admin" "${rotations[1]!.verifier}"`);
    expect(lines[1]).toBe(`"app" "${rotations[2]!.verifier}"`);
    expect(lines[2]).toBe(`"replicator" "${rotations[0]!.verifier}"`);
    expect(lines[3]).toBe('"ro" "SCRAM-SHA-256$ro"');
  });

  test('PgBouncer: userlist, then SIGHUP (only to a real pgbouncer), then one login per rotated user, in one step', async () => {
    const plan = await planned(userlistStep(cc, 'h2', 'x\n', rotations), fixtureView({ host: 'h2' }));
    const actions = plan.actions as { kind: string; path?: string; command?: string; what?: string }[];
    expect(actions.map((a) => a.kind)).toEqual(['put', 'run', 'call']);
    expect(actions[0]).toMatchObject({ path: '/etc/pgbouncer/userlist.txt', mode: '0640', secret: true });
    expect(String(actions[1]!.command)).toMatch(/\[ "\$\(cat \/proc\/\$p\/comm\)" = pgbouncer \] && kill -HUP "\$p"/);
    expect(actions[2]!.what).toMatch(/log in through PgBouncer as admin, app with the new password/);
    // Only the replication role: the userlist still follows (it lists every login role), nobody logs in.
    const replicationOnly = await planned(userlistStep(cc, 'h2', 'x\n', [rotations[0]!]), fixtureView({ host: 'h2' }));
    expect((replicationOnly.actions as { kind: string }[]).map((a) => a.kind)).toEqual(['put', 'run']);
  });

  test('reported in a stable order: replicator, admin, then users by name', () => {
    expect(rotationOrder(['zed', 'admin', 'app', 'replicator'])).toEqual(['replicator', 'admin', 'app', 'zed']);
  });
});

test('a list flag (z.array) takes the flag several times: --user a --user b', () => {
  const schema = z.object({ user: z.array(z.string()).default([]) });
  const cmd = new Command().exitOverride();
  for (const o of optionsFromSchema(schema)) cmd.addOption(o);
  cmd.parse(['--user', 'a', '--user', 'b,c'], { from: 'user' });
  expect(schema.parse(cmd.opts())).toEqual({ user: ['a', 'b,c'] });
  const none = new Command().exitOverride();
  for (const o of optionsFromSchema(schema)) none.addOption(o);
  none.parse([], { from: 'user' });
  expect(schema.parse(none.opts())).toEqual({ user: [] });
});
