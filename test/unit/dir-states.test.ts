import { describe, expect, test } from 'vitest';
import { sh } from '../../src/connection/shell.js';
import { dirStatesFact, statFiles } from '../../src/steps/files.js';
import { fixtureView } from './helpers/role-fixture.js';

const HASH = 'a'.repeat(64);
const output = [
  'D /etc/postgresql/15/main',
  'S /etc/postgresql/15/main/postgresql.conf postgres postgres 644',
  `H ${HASH}  /etc/postgresql/15/main/postgresql.conf`,
].join('\n');

describe('the folders fact answers the file steps of a no-op run without a round trip', () => {
  const fact = dirStatesFact(sh`/etc/postgresql/*/main /etc/pgbouncer`);

  test('a file listed, a file missing from a listed folder: no read', async () => {
    const view = fixtureView({ host: 'h1', facts: { [fact.name]: fact.parse(output) } });
    const states = await statFiles(view, ['/etc/postgresql/15/main/postgresql.conf', '/etc/postgresql/15/main/pgpass']);
    expect(states.get('/etc/postgresql/15/main/postgresql.conf')).toEqual({ exists: true, owner: 'postgres', group: 'postgres', mode: '0644', sha256: HASH });
    expect(states.get('/etc/postgresql/15/main/pgpass')).toEqual({ exists: false });
    expect(view.readsMade).toEqual([]);
  });

  test('a folder the fact did not list (absent, or not listable by this login): asked on the host', async () => {
    const view = fixtureView({
      host: 'h1',
      facts: { [fact.name]: fact.parse(output) },
      reads: [{ match: /^for f in \/etc\/pgbouncer\/pgbouncer.ini/, result: { stdout: 'M /etc/pgbouncer/pgbouncer.ini' } }],
    });
    expect((await statFiles(view, ['/etc/pgbouncer/pgbouncer.ini'])).get('/etc/pgbouncer/pgbouncer.ini')).toEqual({ exists: false });
    expect(view.readsMade).toHaveLength(1);
  });

  test('the command lists only folders it can read, with one find for all their files', () => {
    expect(fact.command).toContain('[ -d "$d" ] && [ -r "$d" ] && [ -x "$d" ] && echo "D $d"');
    expect(fact.command).toContain("sed -E 's/^([0-9a-f]{64} )/H \\1/'");
  });
});
