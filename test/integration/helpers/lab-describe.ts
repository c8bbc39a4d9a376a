import { describe, test } from 'vitest';

/**
 * describe() for lab tests. The lab needs root (network, mount and pid namespaces); without it a lab
 * file fails with the reason instead of turning silently into zero tests — unless only unit tests
 * were asked for (PGTASKS_UNIT_ONLY=1, as `npm run test:unit` sets).
 */
export function labDescribe(name: string, body: () => void): void {
  if (process.getuid?.() === 0) return void describe(name, body);
  if (process.env.PGTASKS_UNIT_ONLY === '1') return void describe.skip(name, body);
  describe(name, () => {
    test('runs as root', () => {
      throw new Error('the lab tests need root (namespaces, sshd, PostgreSQL per host): run them as root, or run unit tests only with `npm run test:unit`');
    });
  });
}
