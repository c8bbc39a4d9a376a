import { describe, expect, test } from 'vitest';
import { databaseStep, databasesStep, dropDatabaseStep, dropUsersStep, newShared, usersRole, usersStep, type UsersOptions } from '../../../roles/users.js';
import { scramVerifier, verifierMatches } from '../../../src/cluster/scram.js';
import { Secrets } from '../../../src/engine/secrets.js';
import { nodeFacts } from '../helpers/node-facts.js';
import { clusterFixture, fixtureView, member, planned, plannedAll, type ReadAnswer } from '../helpers/role-fixture.js';

const facts = { h1: nodeFacts('PRIMARY'), h2: nodeFacts('REPLICA', { upstream: '10.0.0.1' }) };
/** A two-member cluster whose members share these pg_users / pg_databases (group_vars). */
const cluster = (vars: Record<string, unknown>, extra: { facts?: typeof facts } = {}) =>
  clusterFixture({ members: [member('h1', vars), member('h2', vars)], facts: extra.facts ?? facts });

const options = (passwords: Record<string, string> = {}): UsersOptions & { refusals: string[]; secrets: Secrets } => {
  const refusals: string[] = [];
  return { passwords: new Map(Object.entries(passwords)), secrets: new Secrets(), refuse: (t) => refusals.push(t), refusals };
};

/** Rows as psql -A -t -F '\t' prints them. */
const rows = (...r: string[][]) => r.map((x) => x.join('\t')).join('\n');
const answer = (match: RegExp, ...r: string[][]): ReadAnswer => ({ match, result: { stdout: rows(...r) } });
const ROLES = /from pg_authid r where r\.rolname in/;

const users = [
  { name: 'app', member_of: ['readers'] },
  { name: 'readers', login: false },
  { name: 'report', connection_limit: 5, member_of: ['pg_monitor'] },
];

describe('users step: {pg_users, pg_authid} -> one transaction of SQL', () => {
  test('a new cluster`s users: roles created (passwords as scram verifiers, never the password), memberships after; shown masked', async () => {
    const cc = cluster({ pg_users: users });
    const o = options({ app: 'app-secret-pw', report: 'report-secret-pw' });
    const view = fixtureView({ host: 'h1', reads: [answer(ROLES, ['pg_monitor', 'false', '-1', '', ''])] });
    const plan = await planned(usersStep(cc, o), view);
    expect(plan).toMatchObject({ kind: 'change', summary: 'create app, grant readers to app, create readers, create report, grant pg_monitor to report' });
    const [action] = plan.actions as { kind: string; sql: string; shown: string; db: string }[];
    expect(action).toMatchObject({ kind: 'sql', db: 'postgres' });
    const lines = action!.sql.split('\n');
    expect(lines.slice(0, 2)).toEqual(['BEGIN;', 'SET LOCAL synchronous_commit = local;']);
    expect(lines[2]).toMatch(/^CREATE ROLE "app" LOGIN CONNECTION LIMIT -1 PASSWORD 'SCRAM-SHA-256\$4096:[^']+';$/);
    expect(lines.slice(3)).toEqual([
      'CREATE ROLE "readers" NOLOGIN CONNECTION LIMIT -1;',
      expect.stringMatching(/^CREATE ROLE "report" LOGIN CONNECTION LIMIT 5 PASSWORD 'SCRAM-SHA-256/),
      'GRANT "readers" TO "app";',
      'GRANT "pg_monitor" TO "report";',
      'COMMIT;',
    ]);
    const verifier = /PASSWORD '([^']+)'/.exec(lines[2]!)![1]!;
    expect(verifierMatches(verifier, 'app-secret-pw')).toBe(true);
    expect(action!.sql).not.toContain('app-secret-pw');
    expect(action!.shown).not.toContain('SCRAM-SHA-256');
    expect(action!.shown).toContain(`CREATE ROLE "app" LOGIN CONNECTION LIMIT -1 PASSWORD '********'`);
    // Every verifier sent is a secret of the run: an error echoing the SQL shows none.
    expect(o.secrets.mask(action!.sql)).not.toContain('SCRAM-SHA-256');
    // One read-only query.
    expect(view.readsMade).toHaveLength(1);
    expect(view.readsMade[0]).toMatch(/^for psql in .*; PGOPTIONS='-c default_transaction_read_only=on' "\$psql"/);
  });

  test('as wanted: ok, one query, nothing sent (a re-run changes nothing)', async () => {
    const cc = cluster({ pg_users: users });
    const view = fixtureView({
      host: 'h1',
      reads: [
        answer(
          ROLES,
          ['app', 'true', '-1', scramVerifier('app-secret-pw'), 'readers'],
          ['readers', 'false', '-1', '', ''],
          ['report', 'true', '5', scramVerifier('report-secret-pw'), 'pg_monitor'],
          ['pg_monitor', 'false', '-1', '', ''],
        ),
      ],
    });
    expect(await planned(usersStep(cc, options({ app: 'app-secret-pw', report: 'report-secret-pw' })), view)).toEqual({
      kind: 'ok',
      reason: '3 users up to date',
    });
  });

  test('a changed password file, a new limit, a membership left: ALTER ROLE and REVOKE for groups pg_users owns; pg_monitor granted by hand stays', async () => {
    const cc = cluster({
      pg_users: [
        { name: 'app', connection_limit: 10 },
        { name: 'readers', login: false },
      ],
    });
    const view = fixtureView({
      host: 'h1',
      reads: [answer(ROLES, ['app', 'true', '-1', scramVerifier('the-old-password'), 'pg_monitor,readers'], ['readers', 'false', '-1', '', ''])],
    });
    const plan = await planned(usersStep(cc, options({ app: 'the-new-password' })), view);
    expect(plan).toMatchObject({ kind: 'change', summary: 'app: login connection limit 10, set app password, revoke readers from app' });
    const { shown } = (plan.actions as { shown: string }[])[0]!;
    expect(shown).toBe(
      [
        'BEGIN;',
        'SET LOCAL synchronous_commit = local;',
        'ALTER ROLE "app" LOGIN CONNECTION LIMIT 10;',
        `ALTER ROLE "app" PASSWORD '********';`,
        'REVOKE "readers" FROM "app";',
        'COMMIT;',
      ].join('\n'),
    );
  });

  test('member_of a role that is nowhere: the step fails naming it, nothing sent', async () => {
    const cc = cluster({ pg_users: [{ name: 'app', member_of: ['writers'] }] });
    const view = fixtureView({ host: 'h1', reads: [answer(ROLES)] });
    await expect(usersStep(cc, options({ app: 'pw-pw-pw' })).plan(view)).rejects.toThrow(
      'pg_users: member_of writers: no such role (add it to pg_users, with login: false for a group)',
    );
  });
});

describe('databases: created, owned, extensions and grants', () => {
  const dbs = [
    {
      name: 'orders',
      owner: 'app',
      extensions: ['pg_trgm'],
      grants: [
        { role: 'ro', privileges: 'read' },
        { role: 'rw', privileges: 'write', schema: 'sales' },
        { role: 'app', privileges: 'write' },
      ],
    },
  ];
  const vars = { pg_users: [{ name: 'app' }, { name: 'ro' }, { name: 'rw' }], pg_databases: dbs };
  const DBS = /from pg_database where datname in/;
  const GRANTS = /-d orders[\s\S]*from pg_extension/;

  test('a missing database: created from template0 with its owner, encoding and locale; PUBLIC may no longer connect', async () => {
    const cc = cluster(vars);
    const view = fixtureView({ host: 'h1', reads: [answer(DBS, ['role', 'app', '', '', ''])] });
    expect(await planned(databasesStep(cc), view)).toEqual({
      kind: 'change',
      summary: 'create orders',
      actions: [
        {
          kind: 'sql',
          port: 5432,
          db: 'postgres',
          sql: [
            'SET synchronous_commit = local;',
            `CREATE DATABASE "orders" OWNER "app" ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8' TEMPLATE template0;`,
            'REVOKE CONNECT ON DATABASE "orders" FROM PUBLIC;',
          ].join('\n'),
        },
      ],
    });
  });

  test('another owner is changed; an encoding that differs is said, never "fixed"', async () => {
    const cc = cluster(vars);
    const view = fixtureView({ host: 'h1', reads: [answer(DBS, ['db', 'orders', 'admin', 'LATIN1', 'C.UTF-8'], ['role', 'app', '', '', ''])] });
    expect(await planned(databasesStep(cc), view)).toMatchObject({ kind: 'change', summary: 'orders: owner admin -> app' });
    expect(view.messages).toEqual(['database orders has encoding LATIN1 and locale C.UTF-8, pg_databases says UTF8 and C.UTF-8: they cannot change in place']);
  });

  test('an owner that is no role: the step fails naming it', async () => {
    const cc = cluster({ pg_databases: [{ name: 'orders', owner: 'nobody' }] });
    const view = fixtureView({ host: 'h1', reads: [answer(DBS)] });
    await expect(databasesStep(cc).plan(view)).rejects.toThrow('pg_databases: orders: its owner nobody is not a role (add it to pg_users)');
  });

  test('grants: what each role cannot do yet, in the database, with default privileges for tables its owner makes later; the owner itself is skipped', async () => {
    const cc = cluster(vars);
    const view = fixtureView({
      host: 'h1',
      reads: [
        answer(
          GRANTS,
          ['ext', 'plpgsql', '', '', '', '', '', '', ''],
          // ro: connects (PUBLIC), no usage, no select, no defaults
          ['grant', 'ro', 'public', 'true', 'true', 'false', 'false', 'true', 'true:'],
          // rw: everything on the tables there, defaults for tables only
          ['grant', 'rw', 'sales', 'true', 'true', 'true', 'true', 'true', 'true:rSELECT,rINSERT,rUPDATE,rDELETE'],
        ),
      ],
    });
    const plan = await planned(databaseStep(cc, cc.spec.members[0]!.vars.pg_databases[0]!), view);
    expect(plan).toMatchObject({ kind: 'change', summary: 'create extension pg_trgm, grant read on public to ro, grant write on sales to rw' });
    expect((plan.actions as { sql: string; db: string }[])[0]).toMatchObject({
      db: 'orders',
      sql: [
        'BEGIN;',
        'SET LOCAL synchronous_commit = local;',
        'CREATE EXTENSION IF NOT EXISTS "pg_trgm";',
        'GRANT SELECT ON ALL TABLES IN SCHEMA "public" TO "ro";',
        'ALTER DEFAULT PRIVILEGES FOR ROLE "app" IN SCHEMA "public" GRANT SELECT ON TABLES TO "ro";',
        'ALTER DEFAULT PRIVILEGES FOR ROLE "app" IN SCHEMA "sales" GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO "rw";',
        'COMMIT;',
      ].join('\n'),
    });
  });

  test('grants as wanted: ok, one query in that database', async () => {
    const cc = cluster(vars);
    const all = 'true:rSELECT,rINSERT,rUPDATE,rDELETE,SUSAGE,SSELECT,SUPDATE';
    const view = fixtureView({
      host: 'h1',
      reads: [
        answer(
          GRANTS,
          ['ext', 'pg_trgm', '', '', '', '', '', '', ''],
          ['grant', 'ro', 'public', 'true', 'true', 'true', 'false', 'false', 'true:rSELECT'],
          ['grant', 'rw', 'sales', 'true', 'true', 'true', 'true', 'true', all],
        ),
      ],
    });
    expect(await planned(databaseStep(cc, cc.spec.members[0]!.vars.pg_databases[0]!), view)).toEqual({
      kind: 'ok',
      reason: '1 extension(s), 3 grant(s) as wanted',
    });
    expect(view.readsMade).toHaveLength(1);
  });

  test('a schema not there yet: connect is given, the rest waits with a message', async () => {
    const cc = cluster(vars);
    const view = fixtureView({
      host: 'h1',
      reads: [
        answer(
          GRANTS,
          ['ext', 'pg_trgm', '', '', '', '', '', '', ''],
          ['grant', 'ro', 'public', 'true', 'true', 'true', 'false', 'false', 'true:rSELECT'],
          ['grant', 'rw', 'sales', 'false', 'false', 'false', 'false', 'false', 'false:'],
        ),
      ],
    });
    const plan = await planned(databaseStep(cc, cc.spec.members[0]!.vars.pg_databases[0]!), view);
    expect((plan.actions as { sql: string }[])[0]!.sql).toContain('GRANT CONNECT ON DATABASE "orders" TO "rw";\nCOMMIT;');
    expect(view.messages).toEqual(['database orders: schema sales does not exist: write for rw is given once it does (a later run)']);
  });

  test('--check on a cluster still to be made: nothing read, everything to be created, verifiers masked', async () => {
    const cc = clusterFixture({ members: [member('h1', vars)], facts: { h1: nodeFacts('EMPTY') } });
    const view = fixtureView({ host: 'h1', check: true });
    const plans = await plannedAll(usersRole(cc, options({ app: 'a-secret', ro: 'b-secret', rw: 'c-secret' })), view);
    expect(Object.fromEntries(Object.entries(plans).map(([k, v]) => [k, v.summary ?? v.reason]))).toEqual({
      users: 'create app, create ro, create rw',
      databases: 'create orders',
      'database orders': 'create extension pg_trgm, grant read on public to ro, grant write on sales to rw',
      'users: drop': 'no user with state: absent',
    });
    expect(view.readsMade).toEqual([]);
  });
});

describe('what is dropped, and what is refused', () => {
  const OWNED = /from pg_shdepend s join pg_roles r/;

  test('a user that owns objects, without reassign_owned_to: refused with what it owns; nothing sent', async () => {
    const cc = cluster({ pg_users: [{ name: 'old', state: 'absent' }] });
    const o = options();
    const view = fixtureView({
      host: 'h1',
      reads: [answer(OWNED, ['role', 'old', '', '', '', ''], ['dep', 'old', 'orders', 'pg_class', 'o', '2'], ['owndb', 'old', 'legacy', '', '', ''])],
    });
    expect(await planned(dropUsersStep(cc, o), view)).toEqual({ kind: 'skip', reason: 'refused: old own objects' });
    expect(o.refusals).toEqual([
      'user old is not dropped: it owns database legacy; 2 tables, views or sequences in database orders; set reassign_owned_to in pg_users to give them to another role',
    ]);
  });

  test('with reassign_owned_to: REASSIGN OWNED and DROP OWNED in each database where it has something, then DROP ROLE', async () => {
    const cc = cluster({ pg_users: [{ name: 'old', state: 'absent', reassign_owned_to: 'app' }] });
    const view = fixtureView({
      host: 'h1',
      reads: [
        answer(
          OWNED,
          ['role', 'old', '', '', '', ''],
          ['role', 'app', '', '', '', ''],
          ['dep', 'old', 'orders', 'pg_class', 'o', '2'],
          ['dep', 'old', 'shop', 'pg_class', 'a', '1'],
        ),
      ],
    });
    const plan = await planned(dropUsersStep(cc, options()), view);
    expect(plan).toMatchObject({ kind: 'change', summary: 'drop old (its objects to app)' });
    expect((plan.actions as { db: string; sql: string }[]).map((a) => [a.db, a.sql.split('\n').slice(2, -1).join(' ')])).toEqual([
      ['orders', 'REASSIGN OWNED BY "old" TO "app"; DROP OWNED BY "old";'],
      ['shop', 'REASSIGN OWNED BY "old" TO "app"; DROP OWNED BY "old";'],
      ['postgres', 'DROP ROLE "old";'],
    ]);
  });

  test('a user with privileges only: DROP OWNED behind a check that it still owns nothing there, then DROP ROLE; one gone already: nothing', async () => {
    const cc = cluster({
      pg_users: [
        { name: 'old', state: 'absent' },
        { name: 'gone', state: 'absent' },
      ],
    });
    const view = fixtureView({ host: 'h1', reads: [answer(OWNED, ['role', 'old', '', '', '', ''], ['dep', 'old', 'shop', 'pg_class', 'a', '3'])] });
    const plan = await planned(dropUsersStep(cc, options()), view);
    expect(plan).toMatchObject({ kind: 'change', summary: 'drop old' });
    const [guarded, drop] = plan.actions as { db: string; sql: string }[];
    expect(guarded!.db).toBe('shop');
    expect(guarded!.sql).toMatch(/DO \$\$ BEGIN IF EXISTS \(.*s\.deptype = 'o'\) THEN RAISE EXCEPTION .*;\nDROP OWNED BY "old";\nCOMMIT;$/s);
    expect(drop).toMatchObject({ db: 'postgres' });
  });

  test('an absent database holding tables is refused with them; an empty one is dropped (sessions closed: WITH (FORCE))', async () => {
    const vars = { pg_databases: [{ name: 'legacy', state: 'absent' }] };
    const cc = cluster(vars);
    const d = cc.spec.members[0]!.vars.pg_databases[0]!;
    const there = fixtureView({ host: 'h1', reads: [answer(/from pg_database where datname in/, ['db', 'legacy', 'admin', 'UTF8', 'C.UTF-8'])] });
    const o = options();
    const shared = newShared();
    const steps = [databasesStep(cc, shared), dropDatabaseStep(cc, d, o, shared)];
    await planned(steps[0]!, there);
    const held = fixtureView({ host: 'h1', reads: [answer(/-d legacy[\s\S]*relkind in/, ['public.invoices'], ['public.lines'])] });
    expect(await planned(steps[1]!, held)).toEqual({ kind: 'skip', reason: 'refused: it holds tables' });
    expect(o.refusals).toEqual(['database legacy is not dropped: it holds public.invoices, public.lines; drop them first, or keep the database']);
    const empty = fixtureView({ host: 'h1', reads: [answer(/-d legacy[\s\S]*relkind in/)] });
    expect(await planned(steps[1]!, empty)).toEqual({
      kind: 'change',
      summary: 'drop legacy (empty)',
      actions: [{ kind: 'sql', port: 5432, db: 'postgres', sql: 'DROP DATABASE "legacy" WITH (FORCE);' }],
    });
  });
});
