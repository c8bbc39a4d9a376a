import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { configureCluster } from '../../roles/cluster.js';
import { registerPrimary } from '../../roles/register.js';
import { rewindReplica } from '../../roles/rejoin.js';
import { fastStop, restartAsPrimary } from '../../roles/switchover-steps.js';
import { pgVarsSchema } from '../../src/cluster/pg-vars-schema.js';
import { clustersOf, type ClusterSpec } from '../../src/cluster/vars.js';
import type { RunEvent } from '../../src/engine/events.js';
import { Run } from '../../src/engine/run.js';
import { loadInventory } from '../../src/inventory/index.js';
import { nsupdateScript } from '../../src/registry/dns.js';
import { RecordingConnection, uploadedFiles, type Recorded, type Responder } from './helpers/recording-connection.js';
import { shapeOf, shfmtAvailable, type Shape } from './helpers/shell-structure.js';

/*
 * Every inventory value that reaches a command, made hostile, must either be refused when the
 * inventory loads (address-problems.test.ts) or stay one argument. The proof: the same runs (a cold
 * configure-cluster, a converge of a running cluster with a member leaving, a rewind, a switchover's
 * stop) are recorded twice, from a plain inventory and from a hostile one of the same layout, and
 * every command is parsed by a real shell parser (shfmt). Each host must receive commands of the same
 * shapes in both: same statements, words, expansions, redirections (into `sh -c` scripts too); only
 * the text inside literal words differs. And each hostile value is found whole, as one word.
 */

const PWNED = '/tmp/pgtasks-pwned';
/** Values the plain and the hostile inventory give, in the same places. */
const PLAIN = {
  hosts: ['h1', 'h2', 'h3', 'h4'],
  addresses: ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'],
  user: 'deploy',
  becomeUser: 'admin',
  parameters: { work_mem: '4MB', 'ext.a': 'b', search_path: 'public', application_name: 'app', shared_buffers: '128MB', maintenance_work_mem: '64MB' },
  hba: ['host all all 10.0.0.0/8 scram-sha-256', { address: '10.1.0.0/16', method: 'scram-sha-256', database: 'app', user: 'app' }],
  listen: '*',
  credentials: 'credentials',
};
const HOSTILE = {
  hosts: [`h1'$(touch ${PWNED})'`, `h2; touch ${PWNED} #`, 'h3 `id` *', 'h4"\\$HOME'],
  addresses: ['10.0.0.1', 'db-2.example.com.', 'fe80::1%eth0', 'db_4'],
  user: `deploy'; touch ${PWNED}; '`,
  becomeUser: `root$(touch ${PWNED})`,
  parameters: {
    work_mem: `4MB'; touch ${PWNED}; echo '`,
    'evil.a$HOME': `$(touch ${PWNED})`,
    search_path: '"$user", public',
    application_name: `\`touch ${PWNED}\`\n-c log_statement=all`,
    shared_buffers: '-D /tmp *',
    maintenance_work_mem: '\\\'; "; `; $(; ${; |; &; >',
  },
  hba: [`host all all 10.0.0.0/8 scram-sha-256 # $(touch ${PWNED})`, { address: '10.1.0.0/16', method: 'scram-sha-256', database: "app'; x", user: '$(id)' }],
  listen: `*'; touch ${PWNED}; '`,
  credentials: `creds $(touch ${PWNED}) 'x'`,
};
type Values = typeof PLAIN | typeof HOSTILE;

function inventory(v: Values, dir: string, h4State: 'present' | 'absent'): object {
  return {
    all: {
      vars: {
        pg_cluster: 'demo',
        pg_version: 15,
        pg_service_name: 'demo-db.lab.test',
        pg_registry: { provider: 'hosts', hosts: 'all' },
        pg_credentials_dir: join(dir, v.credentials),
        pg_parameters: v.parameters,
        pg_hba: v.hba,
        pg_listen_addresses: v.listen,
        ansible_user: v.user,
        ansible_become: true,
        ansible_become_user: v.becomeUser,
      },
      hosts: Object.fromEntries(v.hosts.map((h, i) => [h, { ansible_host: v.addresses[i], ...(i === 3 ? { pg_state: h4State } : {}) }])),
    },
  };
}

type NodeState = 'empty' | 'primary' | 'replica';

/** The fake hosts: what each fact and check answers, from a state per host (by position in the inventory). */
function responder(v: Values, states: NodeState[]): Responder {
  // A fresh host has nothing installed: the install roles run too.
  const fresh = states.every((s) => s === 'empty');
  const system = `hostname=h\nos=Debian GNU/Linux 12\nmajors=${fresh ? '' : ' 15'}\nsystemd=0\nsudo=1\npgbouncer=${fresh ? 0 : 1}`;
  const node = (state: NodeState) =>
    [
      'version=15',
      'installed=1',
      ...(state === 'empty'
        ? []
        : [
            'configured=1',
            'datadir=nonempty',
            'pgversion=15',
            'running=1',
            'sysid=7300000000000000001',
            'lsn=0/3000000',
            'tli=1',
            'conf_load=1700000000',
            'server_version_num=150004',
            'sync_names=',
            'pending_restart=',
          ]),
      ...(state === 'primary' ? ['recovery=false', 'receiver=', 'live_upstream='] : []),
      ...(state === 'replica' ? ['recovery=true', 'standby=1', 'receiver=streaming', `live_upstream=${v.addresses[0]}`, 'replay_paused=false'] : []),
      'facts_end=1',
    ].join('\n');
  return (host, command, stdin) => {
    const state = states[v.hosts.indexOf(host)]!;
    const facts = [...command.matchAll(/^echo '?@@pgtasks-fact:([^'\s]+)/gm)].map((m) => m[1]!);
    if (facts.length) return { stdout: facts.map((f) => `@@pgtasks-fact:${f}\n${f === 'system' ? system : node(state)}`).join('\n') + '\n' };
    if (/pg_controldata/.test(command)) return { stdout: 'shut down\n0/3000028\n' };
    // "Is it running?" (a pid file naming a live postgres/pgbouncer): no, so the roles start them.
    if (/postmaster\.pid/.test(command) && /\/proc\/\$p\/comm/.test(command)) return { code: 1 };
    // (The start itself reads the pid file too, to drop a stale one: it is not the question.)
    if (/pgbouncer\.pid/.test(command) && /\/proc\/\$p\/comm/.test(command) && !/pgbouncer -d/.test(command)) return { code: 1 };
    if (/echo data \|\| echo none/.test(command)) return { stdout: 'data\n' };
    if (stdin?.includes('pg_conf_load_time() >')) return { stdout: 't\t\n' };
    if (command === 'cat /etc/hosts') return { stdout: '127.0.0.1 localhost\n' };
    if (/ls \/var\/lib\/postgresql \| sort/.test(command)) return { stdout: '15\n' };
    return undefined;
  };
}

interface Recording {
  spec: ClusterSpec;
  log: Recorded[];
  events: RunEvent[];
}

/** One variant's runs: a cold configure-cluster, then a converge of the running cluster with h4 leaving, a rewind and a switchover's stop. */
async function record(v: Values): Promise<Recording> {
  const dir = mkdtempSync(join(tmpdir(), 'pgtasks-inject-'));
  dirs.push(dir);
  const log: Recorded[] = [];
  const events: RunEvent[] = [];
  const runWith = async (h4: 'present' | 'absent', states: NodeState[], fn: (run: Run, spec: ClusterSpec) => Promise<void>) => {
    const file = join(dir, `inventory-${h4}.json`);
    writeFileSync(file, JSON.stringify(inventory(v, dir, h4)));
    const inv = await loadInventory(file);
    const respond = responder(v, states);
    const run = new Run(
      async () => inv,
      { check: false, diff: false, verbose: false, forks: 10, json: false },
      { emit: (e) => events.push(e) },
      async (host, vars) => new RecordingConnection(host, vars, respond, log),
    );
    const [spec] = clustersOf(inv);
    await fn(run, spec!);
    await run.close();
    return spec!;
  };
  const spec = await runWith('present', ['empty', 'empty', 'empty', 'empty'], (run, s) => configureCluster(run, s));
  await runWith('absent', ['primary', 'replica', 'empty', 'replica'], (run, s) => configureCluster(run, s));
  await runWith('present', ['primary', 'replica', 'replica', 'replica'], async (run, s) => {
    const [primary, h2] = s.members;
    await rewindReplica(run, s, h2!.host, primary!, undefined, false);
    const ctx = await run.context(primary!.host);
    await fastStop(ctx, 15, s.name, primary!.host);
    await restartAsPrimary(ctx, { version: 15, cluster: s.name, systemd: false });
  });
  return { spec, log, events };
}

const dirs: string[] = [];
let plain: Recording;
let hostile: Recording;

beforeAll(async () => {
  if (!shfmtAvailable()) throw new Error('shfmt is needed to parse the recorded commands: apt-get install shfmt (scripts/setup.sh installs it)');
  plain = await record(PLAIN);
  hostile = await record(HOSTILE);
}, 60_000);
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Per host position: the shapes of its commands, sorted (hosts run steps in parallel, so order may vary). */
async function shapesByHost(r: Recording, hosts: string[]): Promise<Shape[][]> {
  return Promise.all(
    hosts.map(async (h) => {
      const shapes = await Promise.all(r.log.filter((c) => c.host === h).map((c) => shapeOf(c.command)));
      return shapes.sort((a, b) => (a.shape < b.shape ? -1 : a.shape > b.shape ? 1 : 0));
    }),
  );
}

describe('injection: hostile inventory values are quoted or refused', () => {
  test('both runs did the work: every role ran, and nothing failed', () => {
    for (const r of [plain, hostile]) {
      const failed = r.events.filter((e) => e.type === 'step' && e.status === 'failed');
      expect(failed, JSON.stringify(failed)).toEqual([]);
      const all = r.log.map((c) => c.command).join('\n');
      for (const what of [
        'initdb',
        'pg_basebackup',
        'pg_rewind',
        'pg_ctlcluster',
        '/usr/sbin/pgbouncer',
        'apt-get',
        'mv',
        'cat > /etc/hosts',
        'pg_controldata',
        '--describe-config',
        'check ',
      ])
        expect(all).toContain(what);
      expect(
        r.log.some((c) => /\.deactivated-/.test(c.command)),
        'the leaving member was moved aside',
      ).toBe(true);
    }
    expect(hostile.log.length).toBe(plain.log.length);
    expect(hostile.log.length).toBeGreaterThan(150);
  });

  test('every command has the same shell structure with hostile values as with plain ones (shfmt syntax trees)', async () => {
    const [p, h] = await Promise.all([shapesByHost(plain, PLAIN.hosts), shapesByHost(hostile, HOSTILE.hosts)]);
    for (let i = 0; i < PLAIN.hosts.length; i++) {
      expect(h[i]!.length).toBe(p[i]!.length);
      h[i]!.forEach((shape, j) => expect(shape.shape, `host ${HOSTILE.hosts[i]} command ${j}`).toBe(p[i]![j]!.shape));
    }
  }, 60_000);

  test('each hostile value reaches its command whole, as one word', async () => {
    const words = new Set((await Promise.all(hostile.log.map((c) => shapeOf(c.command)))).flatMap((s) => s.words));
    // pg_parameters names and values PostgreSQL does not know: `check NAME VALUE` (its own parser judges
    // them). ext.name settings are an extension's own: they go only into postgresql.conf (below).
    for (const [name, value] of Object.entries(HOSTILE.parameters).filter(([n]) => !n.includes('.'))) {
      expect(words, name).toContain(name);
      expect(words, value).toContain(value);
    }
    // ansible_become_user: `sudo -n -H -u USER -- sh -c ...` for every command.
    expect(words).toContain(HOSTILE.becomeUser);
    // ansible_host of the primary: pg_basebackup -h ADDRESS, pg_rewind's --source-server=host=ADDRESS ...
    expect(words).toContain(HOSTILE.addresses[0]);
    expect([...words].some((w) => w.startsWith(`--source-server=host=${HOSTILE.addresses[0]} `))).toBe(true);
    // And none of it became a command: `touch PWNED` would make PWNED a word of its own.
    expect(words).not.toContain(PWNED);
  }, 60_000);

  test('files get values as data: /etc/hosts gains exactly one line; pg_hba and postgresql.conf lines stay lines', () => {
    const hosts = hostile.log.filter((c) => c.command.endsWith("'cd / && cat > /etc/hosts'"));
    expect(hosts.length).toBe(2 * HOSTILE.hosts.length); // two configure-cluster runs
    for (const c of hosts) expect(c.stdin).toBe(`127.0.0.1 localhost\n${HOSTILE.addresses[0]} demo-db.lab.test  # pgtasks:demo\n`);
    const uploads = (path: string) =>
      uploadedFiles(hostile.log)
        .filter((f) => f.path === path)
        .map((f) => f.content);
    const conf = uploads('/etc/postgresql/15/demo/postgresql.conf').find((s) => s.includes('work_mem'))!;
    // Each pg_parameters value is one quoted postgresql.conf value; the newline in application_name stays inside it (PostgreSQL rejects it).
    expect(conf).toContain(`work_mem = '4MB''; touch ${PWNED}; echo '''`);
    expect(conf).toContain(`listen_addresses = '*''; touch ${PWNED}; '''`);
    expect(conf).toContain(`evil.a$HOME = '$(touch ${PWNED})'`);
    const hba = uploads('/etc/postgresql/15/demo/pg_hba.conf').find((s) => s.includes('From pg_hba'))!;
    expect(hba.split('\n').filter((l) => l.includes(PWNED))).toEqual([
      `# Managed by pgtasks (cluster demo, host ${HOSTILE.hosts[0]}): edits here are replaced on the next run.`,
      `host all all 10.0.0.0/8 scram-sha-256 # $(touch ${PWNED})`,
    ]);
  });

  test('nothing ran here either: the credentials folder with $(...) in its name was made as named', () => {
    expect(readFileSync(join(hostile.spec.credentialsDir, 'demo', 'admin.password'), 'utf8').length).toBeGreaterThan(10);
    expect(() => readFileSync(PWNED)).toThrow();
  });
});

describe('injection: what reaches nsupdate and a registry command', () => {
  test('a service name or zone that passes the checks cannot add a line to the nsupdate script', () => {
    const attempts = ['demo-db.lab.test', 'demo-db\nupdate add evil. 5 A 1.2.3.4', 'demo db', 'demo;db', 'demo-db.lab.test.\n', 'x\rsend'];
    let accepted = 0;
    for (const name of attempts) {
      for (const zone of attempts) {
        const r = pgVarsSchema.safeParse({ pg_cluster: 'demo', pg_service_name: name, pg_registry: { provider: 'dns', zone, key_file: 'k' } });
        if (!r.success) continue;
        accepted++;
        const spec = r.data.pg_registry as Extract<NonNullable<typeof r.data.pg_registry>, { provider: 'dns' }>;
        expect(nsupdateScript(spec, r.data.pg_service_name!, { type: 'A', value: '10.0.0.1' }).split('\n')).toHaveLength(7);
      }
    }
    expect(accepted).toBe(1);
  });

  test('pg_registry.command gets the names in its environment, never in its text', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgtasks-inject-cmd-'));
    dirs.push(dir);
    const out = join(dir, 'seen');
    const file = join(dir, 'inventory.json');
    const host = HOSTILE.hosts[0]!;
    writeFileSync(
      file,
      JSON.stringify({
        all: {
          vars: {
            pg_cluster: 'demo',
            pg_service_name: 'demo-db.lab.test',
            pg_registry: { provider: 'command', command: `printf '%s\\n' "$PGTASKS_PRIMARY" "$PGTASKS_PRIMARY_ADDRESS" "$PGTASKS_SERVICE_NAME" > '${out}'` },
          },
          hosts: { [host]: { ansible_host: '10.0.0.1' } },
        },
      }),
    );
    const inv = await loadInventory(file);
    const [spec] = clustersOf(inv);
    const log: Recorded[] = [];
    const run = new Run(
      async () => inv,
      { check: false, diff: false, verbose: false, forks: 1, json: false },
      { emit: () => {} },
      async (h, vars) => new RecordingConnection(h, vars, () => undefined, log),
    );
    await registerPrimary(run, spec!, spec!.members[0]!);
    expect(readFileSync(out, 'utf8')).toBe(`${host}\n10.0.0.1\ndemo-db.lab.test\n`);
    expect(log).toEqual([]);
  });
});
