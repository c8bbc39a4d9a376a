import { describe, expect, test } from 'vitest';
import { batchScript, splitBatchOutput } from '../../src/engine/fact.js';
import { pgClustersFact } from '../../src/facts/pg-clusters.js';
import { systemFact } from '../../src/facts/system.js';

describe('fact batching', () => {
  test('one script for many facts, split back by marker', () => {
    const script = batchScript([systemFact, pgClustersFact]);
    expect(script).toContain(systemFact.command);
    expect(script).toContain(pgClustersFact.command);
    const out = splitBatchOutput('@@pgtasks-fact:system\nhostname=h1\n@@pgtasks-fact:pg-clusters\n15 main 5432 online postgres /d /l\n');
    expect(out.get('system')).toBe('hostname=h1');
    expect(out.get('pg-clusters')).toContain('15 main');
  });

  test('system facts parse', () => {
    const f = systemFact.parse('hostname=h1\nos=Debian GNU/Linux 12 (bookworm)\nmajors=16 15 \nsystemd=0\nsudo=1');
    expect(f).toEqual({
      hostname: 'h1',
      os: 'Debian GNU/Linux 12 (bookworm)',
      postgresMajors: [15, 16],
      systemd: false,
      hasSudo: true,
      pgbouncerInstalled: false,
      pgbouncerRunning: false,
      pgbouncerPausedMarker: false,
    });
  });

  test('pg_lsclusters output parses, noise ignored', () => {
    const rows = pgClustersFact.parse(
      '15 main 5432 online postgres /var/lib/postgresql/15/main /var/log/x.log\n16 orders 5433 down,recovery postgres /d /l\nWarning: x\n',
    );
    expect(rows.map((r) => [r.version, r.name, r.port, r.status])).toEqual([
      [15, 'main', 5432, 'online'],
      [16, 'orders', 5433, 'down,recovery'],
    ]);
  });
});
