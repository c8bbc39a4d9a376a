import { afterEach, describe, expect, test, vi } from 'vitest';
import { deactivateRole, pgbouncerStopStep } from '../../../roles/deactivate.js';
import { nodeFacts } from '../helpers/node-facts.js';
import { clusterFixture, fixtureView, member, planned, plannedAll, type ReadAnswer } from '../helpers/role-fixture.js';

const DATA = '/var/lib/postgresql/15/main';
const [h1, h2] = [member('h1'), member('h2', { pg_state: 'absent' })];
const cluster = (systemd = false) => clusterFixture({ members: [h1, h2], facts: { h1: nodeFacts('PRIMARY'), h2: nodeFacts('REPLICA') }, systemd });

const dataDir = (has: boolean): ReadAnswer => ({ match: /ls -A \/var\/lib\/postgresql\/15\/main/, result: { stdout: has ? 'data\n' : 'none\n' } });
const postgresRunning = (running: boolean): ReadAnswer => ({ match: /postmaster\.pid/, result: { code: running ? 0 : 1 } });
const bouncerRunning = (running: boolean): ReadAnswer => ({ match: /pgbouncer\.pid.*= pgbouncer/s, result: { code: running ? 0 : 1 } });
const bouncerEnabled = (enabled: boolean): ReadAnswer => ({ match: /^systemctl is-enabled pgbouncer$/, result: { code: enabled ? 0 : 1 } });

afterEach(() => {
  vi.useRealTimers();
});

describe('deactivate role (pg_state: absent)', () => {
  test('a running member: PgBouncer stopped, PostgreSQL stopped fast, start.conf disabled, data moved aside with a timestamp, never removed', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2024-05-06T07:08:09.123Z'));
    const view = fixtureView({ host: 'h2', reads: [bouncerRunning(true), dataDir(true), postgresRunning(true)] });
    const plans = await plannedAll(deactivateRole(cluster(), 'h2'), view);
    expect(plans['deactivate: pgbouncer']).toMatchObject({ kind: 'change', summary: 'stop PgBouncer' });
    expect(plans.deactivate).toEqual({
      kind: 'change',
      summary: `stop, disable, move ${DATA} to ${DATA}.deactivated-20240506T070809`,
      actions: [
        {
          kind: 'service',
          service: 'postgresql@15-main',
          action: 'stop',
          command: 'pg_ctlcluster -m fast 15 main stop',
          diagnose: 'tail -n 20 /var/log/postgresql/postgresql-15-main.log 2>/dev/null',
        },
        {
          kind: 'run',
          command: `set -e\n[ -f /etc/postgresql/15/main/start.conf ] && echo disabled > /etc/postgresql/15/main/start.conf\nmv ${DATA} ${DATA}.deactivated-20240506T070809`,
        },
      ],
    });
    for (const plan of Object.values(plans)) expect(JSON.stringify(plan)).not.toMatch(/rm -r|rm -f \/var\/lib|rmdir/);
  });

  test('systemd: stopped fast, and the unit disabled', async () => {
    const view = fixtureView({ host: 'h2', reads: [bouncerRunning(false), bouncerEnabled(false), dataDir(true), postgresRunning(true)] });
    const plan = await planned(deactivateRole(cluster(true), 'h2')[1]!, view);
    const actions = plan.actions as { kind: string; command: string }[];
    expect(actions.map((a) => a.command.split('\n').pop())).toEqual([
      'pg_ctlcluster -m fast 15 main stop',
      'systemctl disable postgresql@15-main || true',
      expect.stringMatching(/^mv \/var\/lib\/postgresql\/15\/main \/var\/lib\/postgresql\/15\/main\.deactivated-\d{8}T\d{6}$/),
    ]);
  });

  test('already stopped: no stop, only the move', async () => {
    const view = fixtureView({ host: 'h2', reads: [dataDir(true), postgresRunning(false)] });
    const plan = await planned(deactivateRole(cluster(), 'h2')[1]!, view);
    expect((plan.actions as { kind: string }[]).map((a) => a.kind)).toEqual(['run']);
  });

  test('an empty data directory: already deactivated, and PostgreSQL is not even looked at', async () => {
    const view = fixtureView({ host: 'h2', reads: [dataDir(false)] });
    expect(await planned(deactivateRole(cluster(), 'h2')[1]!, view)).toEqual({ kind: 'ok', reason: 'already deactivated' });
    expect(view.readsMade).toHaveLength(1);
  });
});

describe('deactivate: pgbouncer', () => {
  test('not running, no systemd: ok, one read', async () => {
    const view = fixtureView({ host: 'h2', reads: [bouncerRunning(false)] });
    expect(await planned(pgbouncerStopStep(false), view)).toEqual({ kind: 'ok', reason: 'PgBouncer not running' });
    expect(view.readsMade).toHaveLength(1);
  });

  test('running: SIGTERM to the pid only if it is pgbouncer, waiting (bounded) until it is gone', async () => {
    const plan = await planned(pgbouncerStopStep(false), fixtureView({ host: 'h2', reads: [bouncerRunning(true)] }));
    expect(plan).toMatchObject({ kind: 'change', summary: 'stop PgBouncer' });
    const [stop] = plan.actions as { kind: string; command: string; user?: string }[];
    expect(plan.actions).toHaveLength(1);
    expect(stop!.command).toContain('[ "$(cat /proc/$p/comm 2>/dev/null)" = pgbouncer ]; then\n  kill -TERM "$p"');
    expect(stop!.command).toContain('did not stop within 5 s');
  });

  test('systemd, enabled though stopped: disabled (and stopped) through systemctl', async () => {
    const plan = await planned(pgbouncerStopStep(true), fixtureView({ host: 'h2', reads: [bouncerRunning(false), bouncerEnabled(true)] }));
    expect(plan).toMatchObject({ kind: 'change', summary: 'stop and disable PgBouncer' });
    expect((plan.actions as { command: string }[])[0]).toEqual({ kind: 'run', command: 'systemctl disable --now pgbouncer' });
  });

  test('systemd, disabled and stopped: ok', async () => {
    expect(await planned(pgbouncerStopStep(true), fixtureView({ host: 'h2', reads: [bouncerRunning(false), bouncerEnabled(false)] }))).toEqual({
      kind: 'ok',
      reason: 'PgBouncer not running',
    });
  });
});
