import { describe, expect, test } from 'vitest';
import { sh } from '../../src/connection/shell.js';
import type { Connection } from '../../src/connection/types.js';
import { CommandError, HostContext } from '../../src/engine/host-context.js';
import { reads } from '../../src/engine/host-view.js';
import { Secrets } from '../../src/engine/secrets.js';

/** A connection that answers every command "live" and counts them. */
function counting() {
  const ran: string[] = [];
  const connection: Connection = {
    host: 'h1',
    run: (command) => (ran.push(command), Promise.resolve({ code: 0, stdout: 'live\n', stderr: '' })),
    put: () => Promise.reject(new Error('not here')),
    forward: () => Promise.reject(new Error('not here')),
    close: () => Promise.resolve(),
  };
  const ctx = new HostContext('h1', {}, connection, { emit: () => {} }, { check: false, diff: false, verbose: false }, new Secrets());
  return { ctx, ran };
}

describe('reads answered by the lock round trip (HostContext.prefetch)', () => {
  const facts = reads(sh`cat /etc/os-release`);

  test('the next read of that very command gets it, once; then reads run again', async () => {
    const { ctx, ran } = counting();
    ctx.prefetch(facts, { code: 0, stdout: 'with the lock\n', stderr: '' });
    expect((await ctx.read(reads(sh`cat /etc/hostname`))).stdout).toBe('live\n');
    expect((await ctx.read(facts)).stdout).toBe('with the lock\n');
    expect((await ctx.read(facts)).stdout).toBe('live\n');
    expect(ran).toEqual(['cat /etc/hostname', 'cat /etc/os-release']);
  });

  test('a change to the host drops it, as it drops cached facts', async () => {
    const { ctx, ran } = counting();
    ctx.prefetch(facts, { code: 0, stdout: 'with the lock\n', stderr: '' });
    ctx.changed();
    expect((await ctx.read(facts)).stdout).toBe('live\n');
    expect(ran).toHaveLength(1);
  });

  test('a failed read fails as a run one would, unless failure is allowed', async () => {
    const { ctx } = counting();
    const failed = { code: 2, stdout: '', stderr: 'no such file' };
    ctx.prefetch(facts, failed);
    await expect(ctx.read(facts)).rejects.toBeInstanceOf(CommandError);
    ctx.prefetch(facts, failed);
    expect(await ctx.read(facts, { allowFailure: true })).toEqual(failed);
  });
});
