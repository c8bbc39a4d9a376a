import { describe, expect, test } from 'vitest';
import { parseAnswers } from '../../src/registry/dns.js';

describe("the service name's record, from dig's answer section (CNAME and A asked in one dig)", () => {
  test('an A record', () => {
    expect(parseAnswers('demo-db.lab.test.\t5\tIN\tA\t10.0.0.1\n', 'demo-db.lab.test.')).toEqual({ type: 'A', value: '10.0.0.1' });
  });
  test('a CNAME wins over the A records its chain brings along', () => {
    const out = 'demo-db.lab.test.\t5\tIN\tCNAME\th1.lab.test.\nh1.lab.test.\t5\tIN\tA\t10.0.0.1\ndemo-db.lab.test.\t5\tIN\tCNAME\th1.lab.test.\n';
    expect(parseAnswers(out, 'demo-db.lab.test.')).toEqual({ type: 'CNAME', value: 'h1.lab.test.' });
  });
  test('several A records, in a stable order; other names ignored; nothing is undefined', () => {
    const out = 'demo-db.lab.test. 5 IN A 10.0.0.2\nother.lab.test. 5 IN A 10.9.9.9\nDEMO-DB.lab.test. 5 IN A 10.0.0.1\n';
    expect(parseAnswers(out, 'demo-db.lab.test.')).toEqual({ type: 'A', value: '10.0.0.1,10.0.0.2' });
    expect(parseAnswers('', 'demo-db.lab.test.')).toBeUndefined();
  });
});
