import { describe, expect, test } from 'vitest';
import { scramVerifier, verifierMatches } from '../../src/cluster/scram.js';

describe('scram-sha-256 verifiers', () => {
  test('matches what PostgreSQL stores (known vector)', () => {
    // Shape and self-consistency; that PostgreSQL accepts it is proven by the lab tests' logins.
    const salt = Buffer.from('saltsaltsaltsalt');
    const v = scramVerifier('secret', salt, 4096);
    expect(v).toMatch(/^SCRAM-SHA-256\$4096:c2FsdHNhbHRzYWx0c2FsdA==\$[A-Za-z0-9+/=]{44}:[A-Za-z0-9+/=]{44}$/);
    expect(verifierMatches(v, 'secret')).toBe(true);
    expect(verifierMatches(v, 'Secret')).toBe(false);
    expect(verifierMatches('md5abc', 'secret')).toBe(false);
    expect(verifierMatches(undefined, 'secret')).toBe(false);
  });
});
