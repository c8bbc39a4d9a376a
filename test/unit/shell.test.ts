import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { and, asUser, inline, quote, raw, script, sh } from '../../src/connection/shell.js';

const argv = (command: string): string[] =>
  JSON.parse(execFileSync('sh', ['-c', `node -e 'console.log(JSON.stringify(process.argv.slice(1)))' ${command}`], { encoding: 'utf8' }));

describe('shell quoting', () => {
  test.each(['plain', 'with space', "it's", '$HOME', '`id`', 'a\nb', '', '-n', '*'])('%j survives sh -c', (value) => {
    expect(execFileSync('sh', ['-c', `printf %s ${quote(value)}`], { encoding: 'utf8' })).toBe(value);
  });
  test('sh`` quotes every interpolation, arrays as separate words', () => {
    expect(sh`ls ${'a b'} ${['x', "y'z"]}`).toBe(`ls 'a b' x 'y'\\''z'`);
  });
  test('numbers are words too; a Command given as a value is one quoted word (sh -c), inline() splices it', () => {
    expect(sh`psql -p ${5432}`).toBe('psql -p 5432');
    const inner = sh`echo ${'a; b'}`;
    expect(sh`bash -c ${inner}`).toBe(`bash -c 'echo '\\''a; b'\\'''`);
    expect(argv(sh`${inner}`)).toEqual([`echo 'a; b'`]);
    expect(sh`${inline(inner)} || true`).toBe(`echo 'a; b' || true`);
  });
  test('composition: script() joins lines, and() joins with &&, raw() is source text', () => {
    expect(script(raw('set -e'), sh`rm -f ${'/x y'}`)).toBe(`set -e\nrm -f '/x y'`);
    expect(and(sh`a ${'1'}`, raw('b'))).toBe('a 1 && b');
  });
  test('running as another user', () => {
    expect(asUser(raw('id'), 'root', 'root')).toBe('id');
    expect(asUser(raw('id -un'), 'postgres', 'root')).toBe(`runuser -u postgres -- sh -c 'cd / && id -un'`);
    expect(asUser(raw('id'), 'postgres', 'deploy')).toBe(`sudo -n -H -u postgres -- sh -c 'cd / && id'`);
  });
  test('a connection takes only a Command: a value spliced into a plain string does not compile', () => {
    // The fixture's @ts-expect-error lines must all fail to compile, and its other lines must compile.
    const fixture = fileURLToPath(new URL('./fixtures/command-types.ts', import.meta.url));
    const tsc = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url));
    const args = [
      '--noEmit',
      '--strict',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--target',
      'es2022',
      '--types',
      'node',
      '--skipLibCheck',
      fixture,
    ];
    expect(() => execFileSync(process.execPath, [tsc, ...args], { encoding: 'utf8', stdio: 'pipe' })).not.toThrow();
  }, 30_000);
});

describe('sh`` never drops text', () => {
  test('an invalid escape (a sed back-reference written \\1) is an error, not a silently shorter command', () => {
    // In a tagged template, `\1` leaves that part of the text undefined: it used to vanish, with what followed it.
    expect(() => sh`sed -E 's/(a)/\1/' ${'file'}`).toThrow(/invalid escape sequence drops text/);
    expect(sh`sed -E 's/(a)/\\1/' ${'file'}`).toBe("sed -E 's/(a)/\\1/' file");
  });
});
