import { describe, expect, test } from 'vitest';
import {
  closestSetting,
  confSettings,
  findSuspects,
  parameterErrors,
  parseBool,
  restartChanges,
  settingsFromDescribeConfig,
  settingsFromRows,
  valueProblem,
} from '../../src/cluster/parameter-check.js';
import { decideRestarts, describeChanges, type HostRestartState } from '../../src/cluster/restart-order.js';

// pg_settings rows as SETTINGS_SQL returns them (PostgreSQL 15), trimmed to what the tests use.
const rows = [
  ['work_mem', 'integer', 'user', 'kB', '64', '2147483647', '', '4096', '4096', 'default', '', '4MB'],
  [
    'shared_buffers',
    'integer',
    'postmaster',
    '8kB',
    '16',
    '1073741823',
    '',
    '16384',
    '16384',
    'configuration file',
    '/etc/postgresql/15/demo/postgresql.conf',
    '128MB',
  ],
  ['max_connections', 'integer', 'postmaster', '', '1', '262143', '', '100', '100', 'configuration file', '/etc/postgresql/15/demo/postgresql.conf', '100'],
  ['max_wal_senders', 'integer', 'postmaster', '', '0', '262143', '', '10', '10', 'configuration file', '/etc/postgresql/15/demo/postgresql.conf', '10'],
  ['checkpoint_timeout', 'integer', 'sighup', 's', '30', '86400', '', '300', '300', 'default', '', '5min'],
  ['jit', 'bool', 'user', '', '', '', '', 'on', 'on', 'default', '', 'on'],
  ['huge_pages', 'enum', 'postmaster', '', '', '', 'off,on,try', 'try', 'try', 'default', '', 'try'],
  ['log_destination', 'string', 'sighup', '', '', '', '', 'stderr', 'stderr', 'default', '', 'stderr'],
  ['block_size', 'integer', 'internal', '', '8192', '8192', '', '8192', '8192', 'default', '', '8192'],
  [
    'max_prepared_transactions',
    'integer',
    'postmaster',
    '',
    '0',
    '262143',
    '',
    '0',
    '0',
    'postgresql.auto.conf',
    '/var/lib/postgresql/15/demo/postgresql.auto.conf',
    '0',
  ],
];
const known = settingsFromRows(rows);

describe('pg_parameters names', () => {
  test('a typo is an unknown name with did-you-mean naming the inventory variable', () => {
    const suspects = findSuspects(
      [
        { host: 'h1', parameters: { work_mme: '8MB', work_mem: '8MB' } },
        { host: 'h2', parameters: { work_mme: '8MB' } },
      ],
      known,
    );
    expect(suspects).toEqual([{ name: 'work_mme', value: '8MB', hosts: ['h1', 'h2'], kind: 'name', reason: 'unknown setting' }]);
    expect(parameterErrors([{ suspect: suspects[0]! }], known, ['h1', 'h2'])).toEqual([
      'pg_parameters.work_mme: PostgreSQL has no setting "work_mme"; did you mean work_mem?',
    ]);
    expect(parameterErrors([{ suspect: suspects[0]! }], known, ['h1', 'h2', 'h3'])[0]).toMatch(/^pg_parameters.work_mme \(on h1, h2\): /);
  });

  test('names are case-insensitive; ext.name custom settings are allowed; nothing close means no suggestion', () => {
    expect(
      findSuspects([{ host: 'h1', parameters: { Work_Mem: '8MB', 'pg_stat_statements.max': 5000, 'auto_explain.log_min_duration': '1s' } }], known),
    ).toEqual([]);
    expect(findSuspects([{ host: 'h1', parameters: { 'bad..name': 1 } }], known)[0]?.kind).toBe('name');
    expect(
      closestSetting(
        'frobnicate',
        [...known.values()].map((i) => i.name),
      ),
    ).toBeUndefined();
    expect(
      closestSetting(
        'shared_bufers',
        [...known.values()].map((i) => i.name),
      ),
    ).toBe('shared_buffers');
    expect(
      closestSetting(
        'max_conections',
        [...known.values()].map((i) => i.name),
      ),
    ).toBe('max_connections');
  });

  test('--describe-config (no server yet): names, types and contexts; its unit-less ranges', () => {
    const described = settingsFromDescribeConfig(
      'shared_buffers\tpostmaster\tResource Usage / Memory\tINTEGER\t0\t16\t1073741823\tSets the number of shared memory buffers used by the server.\t\n' +
        'jit\tuser\tQuery Tuning / Other Planner Options\tBOOLEAN\tTRUE\t\t\tAllow JIT compilation.\t\n',
    );
    expect(described.get('shared_buffers')).toMatchObject({
      name: 'shared_buffers',
      vartype: 'integer',
      context: 'postmaster',
      min: 16,
      max: 1073741823,
      unitsKnown: false,
    });
    expect(described.get('jit')?.vartype).toBe('bool');
    // No unit information: 1GB cannot be converted, so it is not suspected; a plain number still is range-checked.
    expect(valueProblem('1GB', described.get('shared_buffers')!)).toBeUndefined();
    expect(valueProblem('8', described.get('shared_buffers')!)).toBe('below the minimum 16');
    expect(valueProblem('lots', described.get('shared_buffers')!)).toMatch(/^not a number/);
  });
});

describe('pg_parameters values (cheap checks: suspects for PostgreSQL to confirm)', () => {
  const v = (name: string, value: string) => valueProblem(value, known.get(name)!);
  test('integers with units, converted to the base unit and range-checked', () => {
    expect(v('shared_buffers', '1GB')).toBeUndefined();
    expect(v('shared_buffers', '131072')).toBeUndefined();
    expect(v('shared_buffers', 'lots')).toBe('not a number (an integer, optionally with a unit such as MB or GB)');
    expect(v('shared_buffers', '64kB')).toBe('below the minimum 16 (8kB)');
    expect(v('shared_buffers', '10TB')).toBe('above the maximum 1073741823 (8kB)');
    expect(v('shared_buffers', '5s')).toBe('valid units for this setting are B, kB, MB, GB, TB');
    expect(v('work_mem', '0x100')).toBeUndefined();
    expect(v('checkpoint_timeout', '10min')).toBeUndefined();
    expect(v('checkpoint_timeout', '10')).toBe('below the minimum 30 (s)');
    expect(v('max_connections', '100MB')).toBe('this setting takes no unit');
  });
  test('booleans as PostgreSQL reads them; enums; strings are left to PostgreSQL', () => {
    expect(['on', 'OFF', 'true', 'fal', 'y', 'no', '1', '0'].map(parseBool)).toEqual([true, false, true, false, true, false, true, false]);
    expect(parseBool('o')).toBeUndefined();
    expect(v('jit', 'maybe')).toBe('not a boolean (on or off)');
    expect(v('huge_pages', 'TRY')).toBeUndefined();
    expect(v('huge_pages', 'sometimes')).toBe('not one of off, on, try');
    expect(v('log_destination', 'nowhere')).toBeUndefined();
  });
  test('booleans from YAML are written as on/off; read-only settings are refused', () => {
    expect(findSuspects([{ host: 'h1', parameters: { jit: false } }], known)).toEqual([]);
    expect(findSuspects([{ host: 'h1', parameters: { block_size: 16384 } }], known)[0]).toMatchObject({
      kind: 'value',
      reason: expect.stringMatching(/read-only/),
    });
    const [s] = findSuspects([{ host: 'h1', parameters: { shared_buffers: 'lots' } }], known);
    expect(parameterErrors([{ suspect: s!, pgError: 'invalid value for parameter "shared_buffers": "lots"' }], known, ['h1'])).toEqual([
      'pg_parameters.shared_buffers = "lots": invalid value for parameter "shared_buffers": "lots"',
    ]);
  });
});

describe('restarts predicted from a new postgresql.conf (--check)', () => {
  test('the rendered file is read as PostgreSQL reads it: last line wins, quotes and escapes', () => {
    const conf = confSettings(
      "# comment\nport = 5432\nwork_mem = '4MB'\nwork_mem = '8MB'\nsearch_path = 'it''s, \\\\x' # note\ninclude_if_exists = '/x/sync.conf'\n",
    );
    expect([...conf]).toEqual([
      ['port', '5432'],
      ['work_mem', '8MB'],
      ['search_path', "it's, \\x"],
    ]);
  });
  test('only restart-only settings whose value changes; a dropped one returns to its default; ALTER SYSTEM wins', () => {
    expect(restartChanges("max_connections = 200\nshared_buffers = '128MB'\nwork_mem = '8MB'\nmax_prepared_transactions = 10\n", known)).toEqual([
      { name: 'max_connections', from: '100', to: '200' },
    ]);
    expect(restartChanges("shared_buffers = '1GB'\nmax_connections = 100\n", known)).toEqual([
      { name: 'shared_buffers', from: '128MB', to: '1GB' },
      // max_wal_senders, dropped from the file, returns to its built-in default 10: no change.
    ]);
    const withSenders = settingsFromRows(rows.map((r) => (r[0] === 'max_wal_senders' ? [...r.slice(0, 7), '10', '12', ...r.slice(9, 11), '12'] : r)));
    expect(restartChanges('max_connections = 100\nshared_buffers = 16384\n', withSenders)).toEqual([{ name: 'max_wal_senders', from: '12', to: '10' }]);
  });
});

describe('restart order (replicas must never run with less than the primary)', () => {
  const state = (host: string, current: number, to?: number, extra: Partial<HostRestartState> = {}): HostRestartState => ({
    host,
    current: { max_connections: current, max_wal_senders: 10 },
    changes: to === undefined ? [] : [{ name: 'max_connections', from: String(current), to: String(to) }],
    ...extra,
  });
  const order = (d: ReturnType<typeof decideRestarts>) => d.order.map((o) => `${o.host}:${o.role}`);

  test('raising max_connections: replicas first (inventory order), the primary last', () => {
    const d = decideRestarts('h1', [state('h1', 100, 200), state('h2', 100, 200), state('h3', 100, 200)]);
    expect(order(d)).toEqual(['h2:replica', 'h3:replica', 'h1:primary']);
    expect(d.reason).toBe('replicas first: the primary raises max_connections 100 -> 200');
    expect(d.problems).toEqual([]);
  });

  test('lowering: the primary first', () => {
    const d = decideRestarts('h2', [state('h1', 200, 100), state('h2', 200, 100), state('h3', 200, 100)]);
    expect(order(d)).toEqual(['h2:primary', 'h1:replica', 'h3:replica']);
    expect(d.reason).toBe('primary first: it lowers max_connections 200 -> 100');
  });

  test('a setting outside the ordered five (shared_buffers): still one at a time, replicas first', () => {
    const sb = (host: string) => ({ host, current: { max_connections: 100 }, changes: [{ name: 'shared_buffers', from: '128MB', to: '256MB' }] });
    expect(order(decideRestarts('h1', [sb('h1'), sb('h2')]))).toEqual(['h2:replica', 'h1:primary']);
    expect(decideRestarts('h1', [state('h1', 100), state('h2', 100)]).order).toEqual([]);
  });

  test('a replica left lower than the primary, or raising and lowering at once: nothing restarts', () => {
    const lowReplica = decideRestarts('h1', [state('h1', 100, 200), state('h2', 100, 200), state('h3', 100)]);
    expect(lowReplica.problems).toEqual([
      "h3 would run with max_connections = 100, lower than the primary's 200: PostgreSQL would pause its recovery; set max_connections at least as high on every replica",
    ]);
    const mixed = (host: string) => ({
      host,
      current: { max_connections: 100, max_wal_senders: 10 },
      changes: [
        { name: 'max_connections', from: '100', to: '200' },
        { name: 'max_wal_senders', from: '10', to: '5' },
      ],
    });
    expect(decideRestarts('h1', [mixed('h1'), mixed('h2')]).problems[0]).toMatch(
      /would raise max_connections 100 -> 200 and lower max_wal_senders 10 -> 5 at once/,
    );
  });
});

describe('restart messages', () => {
  test('changes as the user reads them', () => {
    expect(
      describeChanges([
        { name: 'max_connections', from: '100', to: '200' },
        { name: 'shared_buffers', from: '128MB', to: '1GB' },
      ]),
    ).toBe('max_connections 100 -> 200, shared_buffers 128MB -> 1GB');
    expect(describeChanges([{ name: 'shared_preload_libraries', from: '', to: '' }])).toBe("shared_preload_libraries '' (restart pending in PostgreSQL)");
  });
});
