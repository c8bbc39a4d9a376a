import { execFileSync } from 'node:child_process';
import { describe, expect, test } from 'vitest';
import { construct, pyFloatRepr, resolvePlain, ScalarError } from '../../src/inventory/py-scalars.js';

// The PyYAML ansible-core uses (Debian's python3-yaml beside ansible-core), asked directly.
const PYTHON = '/usr/bin/python3';
const hasPyYaml = (() => {
  try {
    execFileSync(PYTHON, ['-c', 'import yaml'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** For each plain scalar: PyYAML's type name and str() of yaml.safe_load's value, or the error's class. */
function pyyaml(scalars: string[]): [string, string][] {
  const script = `
import json, sys, yaml
out = []
for text in json.load(sys.stdin):
    try:
        v = yaml.safe_load('k: ' + text)['k']
        out.append([type(v).__name__, str(v)])
    except Exception as e:
        out.append(['error', type(e).__name__])
print(json.dumps(out))
`;
  return JSON.parse(execFileSync(PYTHON, ['-c', script], { input: JSON.stringify(scalars), encoding: 'utf8' })) as [string, string][];
}

const PY_NAMES = { str: 'str', int: 'int', float: 'float', bool: 'bool', null: 'NoneType', date: 'date', datetime: 'datetime' };

function ours(text: string): [string, string] {
  try {
    const s = construct(resolvePlain(text), text);
    return [PY_NAMES[s.kind], s.str];
  } catch (err) {
    if (err instanceof ScalarError) return ['error', 'ValueError'];
    throw err;
  }
}

// Plain scalars whose type the yaml package's YAML 1.1 schema and PyYAML disagree on, and their neighbours.
const CORPUS = [
  'e1',
  '1e5',
  '1e+5',
  '1E5',
  '1.e5',
  '1.0e5',
  '1.0e+5',
  '1.0E-5',
  '0.1e1',
  '.5',
  '-.5',
  '+.5',
  '5.',
  '1_0.0_1',
  '1__.e+5',
  '.inf',
  '-.inf',
  '+.Inf',
  '.INF',
  '.nan',
  '.NaN',
  'inf',
  'nan',
  '-.nan',
  '0',
  '-0',
  '+0',
  '00',
  '0755',
  '0o17',
  '0b101',
  '-0b1',
  '0b',
  '0x10',
  '0X10',
  '-0x1F',
  '0x_',
  '0b_',
  '09',
  '0_8',
  '0_',
  '1_000',
  '+12',
  '12:30:00',
  '190:20:30',
  '1:20',
  '1:60',
  '-1:30',
  '1:20:30.5',
  '12:30',
  '0:30',
  '99999999999999999999',
  '123456789012345678901234567890',
  'yes',
  'Yes',
  'YES',
  'yEs',
  'no',
  'NO',
  'y',
  'Y',
  'n',
  'N',
  'on',
  'On',
  'ON',
  'off',
  'OFF',
  'true',
  'True',
  'TRUE',
  'tRue',
  'false',
  '~',
  'null',
  'Null',
  'NULL',
  'nULL',
  '',
  '2024-01-02',
  '2024-1-2',
  '2024-01-02 10:00:00',
  '2001-12-14t21:59:43.10-05:00',
  '2001-12-14 21:59:43.10 -5',
  '2001-12-15T02:59:43.1Z',
  '2001-1-5 1:02:03',
  '2001-12-14 21:59:43.1234567',
  '2001-12-14 21:59:43.10 +05:30',
  '2024-13-01',
  '2024-02-30',
  '2024-02-29',
  '2023-02-29',
  '0000-01-01',
  '=',
  '<<',
  '<',
  'a:b',
  '1.2.3',
  '1-2',
  '+',
  '.',
  '_1',
  '1_',
];

describe('plain scalars are typed as PyYAML types them (ansible-core reads YAML with it)', () => {
  test.skipIf(!hasPyYaml)('the corpus, against yaml.safe_load', () => {
    const expected = pyyaml(CORPUS);
    // '=' and '<<' as values have no constructor in PyYAML: the tree refuses them (inventory-errors.test.ts).
    const mismatches = CORPUS.map((text, i) => ({ text, ours: ours(text), pyyaml: expected[i]! }))
      .filter((r) => !(r.text === '=' || r.text === '<<'))
      .filter((r) => JSON.stringify(r.ours) !== JSON.stringify(r.pyyaml));
    expect(mismatches).toEqual([]);
  });

  test.skipIf(!hasPyYaml)('floats print as Python repr() prints them', () => {
    // Deterministic doubles across magnitudes: repr switches to e-notation below 1e-4 and from 1e16.
    let seed = 42;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const values = [
      0.1,
      1e-4,
      1e-5,
      1e15,
      1e16,
      1.5e16,
      123456789.125,
      2 ** 53,
      5e-324,
      1.7976931348623157e308,
      -0.0,
      ...Array.from({ length: 200 }, () => (rand() - 0.5) * 10 ** Math.floor(rand() * 44 - 22)),
    ];
    const script = 'import json, sys\nprint(json.dumps([repr(float(x)) for x in json.load(sys.stdin)]))';
    const python = JSON.parse(
      execFileSync(PYTHON, ['-c', script], { input: JSON.stringify(values.map((v) => (Object.is(v, -0) ? '-0.0' : String(v)))), encoding: 'utf8' }),
    ) as string[];
    expect(values.map(pyFloatRepr)).toEqual(python);
  });

  test('what the yaml package got wrong', () => {
    expect(ours('e1')).toEqual(['str', 'e1']); // the yaml package: NaN
    expect(ours('1e5')).toEqual(['str', '1e5']); // 100000
    expect(ours('0x10')).toEqual(['int', '16']);
    expect(ours('y')).toEqual(['str', 'y']); // true
    expect(construct(resolvePlain('2001-12-14t21:59:43.10-05:00'), '2001-12-14t21:59:43.10-05:00').value).toBe('2001-12-14T21:59:43.100000-05:00');
  });
});
