import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { cli } from '../../src/cli/entry.js';
import { LocalConnection } from '../../src/connection/local.js';
import { UnreachableError, type Connection } from '../../src/connection/types.js';
import { unwrapParagraphs } from '../../src/cli/help-text.js';
import { builtinTasks } from '../../tasks/index.js';

const fixtures = fileURLToPath(new URL('../fixtures/cli/', import.meta.url));
const twoHosts = `${fixtures}two-hosts.yml`;

interface CallOptions {
  connect?: (host: string) => Promise<Connection>;
  env?: NodeJS.ProcessEnv;
  isTTY?: boolean;
  columns?: number;
}

async function call(argv: string[], opts: CallOptions = {}) {
  let stdout = '';
  let stderr = '';
  let out = ''; // both, in order: where banners and the recap go (stdout or stderr) is not what is tested here
  const connections: string[] = [];
  const code = await cli(argv, {
    stdout: (t) => void ((stdout += t), (out += t)),
    stderr: (t) => void ((stderr += t), (out += t)),
    isTTY: opts.isTTY ?? false,
    columns: opts.columns,
    cwd: fixtures,
    env: opts.env ?? {},
    connector: async (host) => {
      connections.push(host);
      if (opts.connect) return opts.connect(host);
      throw new UnreachableError(host, 'connection refused (test)');
    },
  });
  return { code, stdout, stderr, out, connections };
}

const local = async (host: string) => new LocalConnection(host);

describe('global flags after the task name', () => {
  test('facts -l db1 --check: the limit and check mode apply, as before the task name', async () => {
    const before = await call(['-i', twoHosts, '-l', 'db1', '--check', 'facts'], { connect: local });
    const after = await call(['-i', twoHosts, 'facts', '-l', 'db1', '--check'], { connect: local });
    for (const r of [before, after]) {
      expect(r.code).toBe(0);
      expect(r.connections).toEqual(['db1']);
      expect(r.out).toMatch(/^TASK \[facts\] \(check mode: nothing is changed\)$/m);
    }
    expect(after.out).toBe(before.out);
  });

  test('-i after the task name, in the --inventory=PATH spelling too', async () => {
    const r = await call(['facts', `--inventory=${twoHosts}`, '--limit=db2'], { connect: local });
    expect(r.code).toBe(0);
    expect(r.connections).toEqual(['db2']);
  });

  test('a team task that takes a global flag for itself is refused before anything runs (exit 2)', async () => {
    const r = await call(['--tasks', `${fixtures}clash.tasks.ts`, '-i', twoHosts, 'deploy', '--check']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `pgtasks: ${fixtures}clash.tasks.ts: task 'deploy': its flag --check is also a global flag (--check applies to the whole run, before or after the task name); rename it\n`,
    );
    expect(r.connections).toEqual([]);
    // --list too: a task file with a clash is wrong whatever is asked.
    expect((await call(['--tasks', `${fixtures}clash.tasks.ts`, '--list'])).code).toBe(2);
  });
});

describe('help', () => {
  test('pgtasks help TASK is pgtasks --help TASK and TASK --help', async () => {
    const outputs = [];
    for (const argv of [
      ['help', 'migrate-to-master'],
      ['--help', 'migrate-to-master'],
      ['migrate-to-master', '--help'],
      ['-i', twoHosts, 'help', 'migrate-to-master'],
    ]) {
      const r = await call(argv);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Usage: pgtasks migrate-to-master/);
      outputs.push(r.stdout);
    }
    expect(new Set(outputs).size).toBe(1);
  });

  test('pgtasks help is the global help, which says global flags may follow the task', async () => {
    const r = await call(['help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--only-changes/);
    expect(r.stdout).toMatch(/Global flags may stand before the first task or after any task name/);
    expect(r.stdout).toBe((await call(['--help'])).stdout);
    // Its notes are wrapped to the terminal like the rest, not at a width fixed in the source.
    const wide = (await call(['help'], { columns: 10_000 })).stdout;
    expect(wide).toMatch(/^Global flags may stand before .* shows a task's flags\.$/m);
    expect(r.stdout.split('\n').every((l) => l.length <= 80)).toBe(true);
  });

  test('pgtasks help with an unknown task: the unknown-task error with its suggestion, exit 2', async () => {
    const r = await call(['help', 'configure-clustr']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'configure-clustr'.*Did you mean configure-cluster\?/);
  });

  test('a description is wrapped by paragraph, never at the line ends of its source', async () => {
    for (const t of builtinTasks.filter((t) => t.description)) {
      const paragraphs = unwrapParagraphs(t.description!).split('\n');
      // On a wide terminal every paragraph is one line, exactly as written.
      const wide = await call(['help', t.name], { columns: 10_000 });
      for (const p of paragraphs) expect(wide.stdout.split('\n')).toContain(p);
      // At 80 columns a line only breaks where the next word would not fit.
      const narrow = (await call(['help', t.name])).stdout.split('\n');
      const start = narrow.indexOf(t.help) + 2;
      const body = narrow.slice(start, narrow.indexOf('Options:') - 1);
      for (let i = 0; i + 1 < body.length; i++) {
        if (!body[i] || !body[i + 1]) continue;
        const nextWord = body[i + 1]!.split(' ')[0]!;
        expect(body[i]!.length + 1 + nextWord.length, `${t.name}: "${body[i]}" then "${nextWord}"`).toBeGreaterThan(80);
      }
    }
  });

  test('paragraphs, list items and indented lines are kept as written', () => {
    expect(unwrapParagraphs('One sentence\nwrapped.\n\nSecond\nparagraph:\n- item one\n  more\n- item two\n1. first')).toBe(
      'One sentence wrapped.\n\nSecond paragraph:\n- item one\n  more\n- item two\n1. first',
    );
  });
});

describe('NO_COLOR (https://no-color.org)', () => {
  const run = (env: NodeJS.ProcessEnv) => call(['-i', twoHosts, 'facts'], { isTTY: true, env, connect: local });
  test('colour on a terminal, none with any non-empty NO_COLOR, none when piped', async () => {
    expect((await run({})).out).toMatch(/\x1b\[/);
    expect((await run({ NO_COLOR: '' })).out).toMatch(/\x1b\[/);
    for (const value of ['1', 'true', 'no', '0']) expect((await run({ NO_COLOR: value })).out).not.toMatch(/\x1b\[/);
    expect((await call(['-i', twoHosts, 'facts'], { connect: local })).out).not.toMatch(/\x1b\[/);
  });
});

describe('showing only changes (Ansible display_ok_hosts=false)', () => {
  test('--only-changes: a run where every host is ok prints only the recap', async () => {
    for (const argv of [
      ['--only-changes', '-i', twoHosts, 'facts'],
      ['-i', twoHosts, 'facts', '--only-changes'],
    ]) {
      const r = await call(argv, { connect: local });
      expect(r.code).toBe(0);
      expect(r.out).toBe('\nRECAP\ndb1 : ok=1  changed=0  unreachable=0  failed=0  skipped=0\ndb2 : ok=1  changed=0  unreachable=0  failed=0  skipped=0\n');
    }
  });

  test('failures still show, under their TASK banner', async () => {
    const r = await call(['-i', twoHosts, '--only-changes', 'facts'], {
      connect: async (host) => (host === 'db2' ? Promise.reject(new UnreachableError(host, 'connection refused')) : new LocalConnection(host)),
    });
    expect(r.code).toBe(4);
    expect(r.out).toMatch(/^TASK \[facts\]\nfatal: \[db2\] connect UNREACHABLE: connection refused\n/);
    expect(r.out).not.toMatch(/ok: \[db1\]/);
  });

  test('PGTASKS_DISPLAY_OK_HOSTS=false hides ok lines (the banner stays, as in Ansible); a bad value is exit 2', async () => {
    const r = await call(['-i', twoHosts, 'facts'], { connect: local, env: { PGTASKS_DISPLAY_OK_HOSTS: 'False' } });
    expect(r.out).toMatch(/^TASK \[facts\]\n\nRECAP\n/);
    expect((await call(['-i', twoHosts, 'facts'], { connect: local, env: { PGTASKS_DISPLAY_OK_HOSTS: 'yes' } })).out).toMatch(/ok: \[db1\] facts/);
    const bad = await call(['-i', twoHosts, 'facts'], { connect: local, env: { PGTASKS_DISPLAY_OK_HOSTS: 'quiet' } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('pgtasks: PGTASKS_DISPLAY_OK_HOSTS=quiet: expected true or false (or yes/no, on/off, 1/0)\n');
  });

  test('--json is not filtered: scripts get every event', async () => {
    const r = await call(['-i', twoHosts, '--json', '--only-changes', 'facts'], { connect: local });
    expect(r.stdout.split('\n').filter((l) => l.includes('"status":"ok"'))).toHaveLength(2);
  });
});

describe('--limit on a cluster task is widened to whole clusters, and says so', () => {
  test('configure-cluster -l db1: the run says db2 is taken too, before contacting anything', async () => {
    const r = await call(['-i', twoHosts, 'configure-cluster', '-l', 'db1']);
    const lines = r.out.split('\n');
    expect(lines[1]).toBe('--limit db1 widened to the whole cluster demo: db2 is outside the limit and taken too (a cluster is converged as a whole)');
    expect([...new Set(r.connections)].sort()).toEqual(['db1', 'db2']);
  });

  test('-l naming every member: no message; -l naming no member: exit 2', async () => {
    const all = await call(['-i', twoHosts, 'configure-cluster', '-l', 'db']);
    expect(all.out).not.toMatch(/widened/);
    const none = await call(['-i', `${fixtures}two-hosts.yml`, '-l', 'db9*', 'configure-cluster']);
    expect(none.code).toBe(2);
    expect(none.connections).toEqual([]);
  });

  test('with --json the widening is an event too', async () => {
    const r = await call(['-i', twoHosts, '--json', 'configure-cluster', '-l', 'db2']);
    expect(r.stdout.split('\n')[1]).toBe(
      JSON.stringify({
        type: 'message',
        text: '--limit db2 widened to the whole cluster demo: db1 is outside the limit and taken too (a cluster is converged as a whole)',
      }),
    );
  });
});
