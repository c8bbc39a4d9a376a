import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { shellQuote, sql, writeClusterInventory } from '../lab/cluster-inventory.js';
import { hostExec, labDown, labUp, type Lab } from '../lab/lab.js';
import { changedSteps, pgtasks } from './helpers/pgtasks.js';
import { startArgvSampler } from './helpers/argv-sampler.js';
import { labDescribe } from './helpers/lab-describe.js';

/**
 * Users and databases (issue 10, part 1) on the lab: pg_users and pg_databases converge on the primary
 * and PgBouncer's userlist follows in the same run; grants do what they say; the imperative tasks
 * change a password and drop a user only when nothing is lost. No password is ever on a command line.
 */
const LAB = 'users';
const CLUSTER = 'acc';

const USERS = [{ name: 'app' }, { name: 'readers', login: false }, { name: 'ro', member_of: ['readers'] }, { name: 'rw', connection_limit: 10 }];
const DATABASES = [
  {
    name: 'orders',
    owner: 'app',
    extensions: ['pg_trgm'],
    grants: [
      { role: 'readers', privileges: 'read' },
      { role: 'rw', privileges: 'write' },
    ],
  },
];

labDescribe('users and databases on the lab (real sshd, PostgreSQL, PgBouncer)', () => {
  let lab: Lab;
  let inventory: string;
  const run = (...argv: string[]) => pgtasks(['-i', inventory, ...argv]);
  const address = (h: string) => lab.hosts.find((x) => x.name === h)!.address;
  const credentials = () => join(lab.dir, 'credentials', CLUSTER);
  const passwordOf = (user: string) => readFileSync(join(credentials(), 'users', `${user}.password`), 'utf8').trim();
  const writeInventory = (vars: Record<string, unknown>) => writeClusterInventory(lab, inventory, { cluster: CLUSTER, clusterVars: vars });
  /** psql as `user` through PgBouncer on h3 (6432), password in the environment: the exit code, output and error. */
  const viaBouncer = async (user: string, password: string, db: string, query: string) => {
    const r = await hostExec(
      lab,
      'h3',
      `PGPASSWORD=${shellQuote(password)} psql -X -At -q -h ${address('h3')} -p 6432 -U ${user} -d ${db} -c ${shellQuote(query)}`,
    );
    return { code: r.code, out: r.stdout.trim(), err: r.stderr.trim() };
  };

  beforeAll(async () => {
    lab = await labUp({ hosts: 3, name: LAB });
    inventory = join(lab.dir, 'users.yml');
    writeInventory({});
    const r = await run('configure-cluster');
    expect(r.code, r.stdout).toBe(0);
  });

  afterAll(async () => {
    if (!process.env.PGTASKS_KEEP_LAB) await labDown(LAB);
  });

  test('pg_users and pg_databases converge; a new user logs in through PgBouncer right after the run; no password in argv or output; a re-run changes nothing', async () => {
    writeInventory({ pg_users: USERS, pg_databases: DATABASES });
    const sampler = startArgvSampler();
    const r = await run('-v', 'configure-cluster');
    const cmdlines = await sampler.stop();
    expect(r.code, r.stdout).toBe(0);
    const changed = changedSteps(r).filter((l) => l.startsWith('h1: users') || l.startsWith('h1: database'));
    expect(changed).toEqual([
      'h1: users: create app, create readers, create ro, grant readers to ro, create rw',
      'h1: databases: create orders',
      'h1: database orders: create extension pg_trgm, grant read on public to readers, grant write on public to rw',
    ]);
    const passwords = ['app', 'ro', 'rw'].map(passwordOf);
    for (const u of ['app', 'ro', 'rw']) expect((statSync(join(credentials(), 'users', `${u}.password`)).mode & 0o777).toString(8)).toBe('600');
    const leaks = [...cmdlines].filter((c) => passwords.some((p) => c.includes(p)) || c.includes('SCRAM-SHA-256$'));
    expect(leaks).toEqual([]);
    expect(cmdlines.size).toBeGreaterThan(50); // the sampler saw the run's commands, not an idle machine
    for (const p of passwords) expect(r.stdout).not.toContain(p);
    expect(r.stdout).not.toContain('SCRAM-SHA-256$');
    expect(r.stdout).toContain("PASSWORD '********'"); // -v shows the SQL, verifiers masked

    // Right after the run, through PgBouncer on a replica's host: no second run needed.
    expect(await viaBouncer('rw', passwordOf('rw'), 'orders', 'select current_user')).toMatchObject({ code: 0, out: 'rw' });
    expect(await sql(lab, 'h1', "select rolconnlimit from pg_roles where rolname = 'rw'")).toBe('10');
    // Replicas follow by WAL.
    expect(await sql(lab, 'h2', "select string_agg(datname, ',') from pg_database where datname = 'orders'")).toBe('orders');

    const again = await run('configure-cluster');
    expect(again.code, again.stdout).toBe(0);
    expect(changedSteps(again)).toEqual([]);
  });

  test('a read grant selects but cannot insert, also on a table the owner creates after the run (default privileges); a write grant inserts', async () => {
    await viaBouncer('app', passwordOf('app'), 'orders', 'create table items (id serial primary key, name text); insert into items (name) values (1)');
    expect(await viaBouncer('ro', passwordOf('ro'), 'orders', 'select count(*) from items')).toMatchObject({ code: 0, out: '1' });
    const denied = await viaBouncer('ro', passwordOf('ro'), 'orders', "insert into items (name) values ('x')");
    expect(denied.code).not.toBe(0);
    expect(denied.err).toContain('permission denied for table items');
    expect(await viaBouncer('rw', passwordOf('rw'), 'orders', "insert into items (name) values ('y') returning id")).toMatchObject({ code: 0, out: '2' });
    // PUBLIC may not connect to a database pg_databases made: only its owner and the roles granted.
    expect(
      await sql(
        lab,
        'h1',
        "select count(*) from aclexplode((select datacl from pg_database where datname = 'orders')) where grantee = 0 and privilege_type = 'CONNECT'",
      ),
    ).toBe('0');
  });

  test('user-password: a new password that works at once through PgBouncer, the old one no longer; written 0600, never printed with --json', async () => {
    const old = passwordOf('ro');
    const out = join(lab.dir, 'ro-new.password');
    const r = await run('user-password', '--name', 'ro', '--password-file', out, '--cluster', CLUSTER);
    expect(r.code, r.stdout).toBe(0);
    const fresh = readFileSync(out, 'utf8').trim();
    expect(fresh).not.toBe(old);
    expect((statSync(out).mode & 0o777).toString(8)).toBe('600');
    expect(passwordOf('ro')).toBe(fresh); // kept in the credentials folder: configure-cluster keeps it
    expect(r.stdout).not.toContain(fresh);
    expect(await viaBouncer('ro', fresh, 'orders', 'select 1')).toMatchObject({ code: 0, out: '1' });
    const refused = await viaBouncer('ro', old, 'orders', 'select 1');
    expect(refused.code).not.toBe(0);
    expect(refused.err).toMatch(/password authentication failed|SASL authentication failed/);
    expect(changedSteps(await run('configure-cluster'))).toEqual([]);
  });

  test('user-delete refuses a user that owns a table, and with --reassign-to gives it away; user-create and db-create', async () => {
    const created = await run('user-create', '--name', 'tmp', '--cluster', CLUSTER);
    expect(created.code, created.stdout).toBe(0);
    expect(await viaBouncer('tmp', passwordOf('tmp'), 'postgres', 'select current_user')).toMatchObject({ code: 0, out: 'tmp' });
    const db = await run('db-create', '--name', 'scratch', '--owner', 'tmp');
    expect(db.code, db.stdout).toBe(0);
    expect((await run('db-create', '--name', 'scratch', '--owner', 'app')).code).toBe(1); // exists, owned by another: refused
    await sql(lab, 'h1', 'create table tmp_owned (id int)');
    await sql(lab, 'h1', 'alter table tmp_owned owner to tmp');

    const refused = await run('user-delete', '--name', 'tmp');
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('user-delete: tmp owns database scratch; ');
    expect(refused.stdout).toMatch(/tables, views or sequences in database postgres; pass --reassign-to ROLE/);
    expect(await sql(lab, 'h1', "select count(*) from pg_roles where rolname = 'tmp'")).toBe('1');

    const dropped = await run('user-delete', '--name', 'tmp', '--reassign-to', 'app');
    expect(dropped.code, dropped.stdout).toBe(0);
    expect(await sql(lab, 'h1', "select count(*) from pg_roles where rolname = 'tmp'")).toBe('0');
    expect(await sql(lab, 'h1', "select tableowner from pg_tables where tablename = 'tmp_owned'")).toBe('app');
    expect(await sql(lab, 'h1', "select pg_get_userbyid(datdba) from pg_database where datname = 'scratch'")).toBe('app');
    // Out of PgBouncer's userlist in the same run.
    expect((await viaBouncer('tmp', passwordOf('tmp'), 'postgres', 'select 1')).code).not.toBe(0);
  });
  test('state: absent in pg_users: --check shows the drops (SQL masked) and refuses a user owning a table; with reassign_owned_to the run drops it, objects kept', async () => {
    await sql(lab, 'h1', 'select 1'); // the primary answers
    await hostExec(lab, 'h1', `runuser -u postgres -- psql -X -q -d orders -c 'create table rw_owned (id int); alter table rw_owned owner to rw'`);
    const absent = (rw: Record<string, unknown>) =>
      writeInventory({
        pg_users: [{ name: 'app' }, { name: 'readers', login: false }, { name: 'ro', state: 'absent' }, { name: 'rw', state: 'absent', ...rw }],
        pg_databases: [{ ...DATABASES[0], grants: [{ role: 'readers', privileges: 'read' }] }],
      });
    absent({});
    const check = await run('--check', '-v', 'configure-cluster');
    expect(check.code, check.stdout).toBe(1);
    expect(check.stdout).toMatch(
      /REFUSED: cluster acc: user rw is not dropped: it owns \d+ tables, views or sequences in database orders; set reassign_owned_to/,
    );
    const commands = check.events.flatMap((e) => (e.type === 'command' ? [e.command] : []));
    expect(commands.filter((c) => c.includes('DROP ROLE'))).toEqual([
      'would run: psql -p 5432 -d postgres <<< BEGIN;\nSET LOCAL synchronous_commit = local;\nDROP ROLE "ro";\nCOMMIT;',
    ]);
    expect(await sql(lab, 'h1', "select string_agg(rolname, ',' order by rolname) from pg_roles where rolname in ('ro', 'rw')")).toBe('ro,rw');

    absent({ reassign_owned_to: 'app' });
    const r = await run('configure-cluster');
    expect(r.code, r.stdout).toBe(0);
    expect(changedSteps(r).filter((l) => l.startsWith('h1: users: drop'))).toEqual(['h1: users: drop: drop ro, drop rw (its objects to app)']);
    expect(await sql(lab, 'h1', "select count(*) from pg_roles where rolname in ('ro', 'rw')")).toBe('0');
    expect(
      await hostExec(lab, 'h1', `runuser -u postgres -- psql -X -At -d orders -c "select tableowner from pg_tables where tablename = 'rw_owned'"`),
    ).toMatchObject({ stdout: 'app\n' });
    expect((await viaBouncer('rw', passwordOf('rw'), 'orders', 'select 1')).code).not.toBe(0);
    expect(changedSteps(await run('configure-cluster'))).toEqual([]);
  });
});
