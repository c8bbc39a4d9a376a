import { describe, expect, test } from 'vitest';
import { serviceRole } from '../../../roles/service.js';
import { nodeFacts } from '../helpers/node-facts.js';
import { clusterFixture, fixtureView, member, planned, type ReadAnswer } from '../helpers/role-fixture.js';

const [h1, h2] = [member('h1'), member('h2')];
/** pgStatusCommand: the postmaster's pid file names a live postgres (exit 0) or not. */
const status = (running: boolean): ReadAnswer => ({ match: /postmaster\.pid.*\/proc\/\$p\/comm/s, result: { code: running ? 0 : 1 } });

describe('service role: {facts, notified, reads} -> actions', () => {
  test('not running, no systemd: pg_ctl start itself, bounded, in its own session, as postgres, with the log tail to diagnose', async () => {
    const cc = clusterFixture({ members: [h1, h2], facts: { h1: nodeFacts('PRIMARY'), h2: nodeFacts('EMPTY') } });
    const view = fixtureView({ host: 'h2', reads: [status(false)] });
    expect(await planned(serviceRole(cc, 'h2')[0]!, view)).toEqual({
      kind: 'change',
      summary: 'start PostgreSQL',
      actions: [
        {
          kind: 'service',
          service: 'postgresql@15-main',
          action: 'start',
          command:
            "setsid -w /usr/lib/postgresql/15/bin/pg_ctl start -w -t 90 -s -D /var/lib/postgresql/15/main -l /var/log/postgresql/postgresql-15-main.log -o '-c config_file=/etc/postgresql/15/main/postgresql.conf'",
          user: 'postgres',
          diagnose: 'tail -n 20 /var/log/postgresql/postgresql-15-main.log 2>/dev/null',
        },
      ],
    });
    expect(view.readsMade).toHaveLength(1);
  });

  test('not running, systemd: systemctl start of the unit, as the login user (become), not postgres', async () => {
    const cc = clusterFixture({ members: [h1, h2], facts: { h1: nodeFacts('PRIMARY'), h2: nodeFacts('EMPTY') }, systemd: true });
    const plan = await planned(serviceRole(cc, 'h2')[0]!, fixtureView({ host: 'h2', reads: [status(false)] }));
    expect(plan).toMatchObject({ kind: 'change', summary: 'start PostgreSQL' });
    const [a] = plan.actions as Record<string, unknown>[];
    expect(a).toMatchObject({ kind: 'service', action: 'start', command: 'systemctl start postgresql@15-main' });
    expect(a!.user).toBeUndefined();
  });

  test('running, notified: judge the files, reload, clear the notification, collect pending restarts', async () => {
    const cc = clusterFixture({ members: [h1, h2], facts: { h1: nodeFacts('PRIMARY'), h2: nodeFacts('REPLICA', { upstream: '10.0.0.1' }) } });
    const view = fixtureView({ host: 'h2', notified: ['postgresql-reload'] });
    expect(await planned(serviceRole(cc, 'h2')[0]!, view)).toEqual({
      kind: 'change',
      summary: 'reload configuration',
      actions: [
        { kind: 'call', what: 'check that PostgreSQL accepts the files written (put the previous ones back if not)' },
        {
          kind: 'service',
          service: 'postgresql@15-main',
          action: 'reload',
          // pg_ctl's SIGHUP as the cluster's owner: pg_ctlcluster would only add a Perl start.
          command: '/usr/lib/postgresql/15/bin/pg_ctl reload -s -D /var/lib/postgresql/15/main',
          user: 'postgres',
          diagnose: 'tail -n 20 /var/log/postgresql/postgresql-15-main.log 2>/dev/null',
        },
        { kind: 'notify', handler: 'postgresql-reload', handled: true },
        { kind: 'call', what: 'collect the settings that wait for a restart (pending_restart)' },
      ],
    });
    // Running per this run's facts: no look at the pid file.
    expect(view.readsMade).toEqual([]);
  });

  test('running, notified, systemd: the reload goes through systemctl', async () => {
    const cc = clusterFixture({ members: [h1], facts: { h1: nodeFacts('PRIMARY') }, systemd: true });
    const plan = await planned(serviceRole(cc, 'h1')[0]!, fixtureView({ host: 'h1', notified: ['postgresql-reload'] }));
    expect((plan.actions as Record<string, unknown>[])[1]).toMatchObject({ kind: 'service', action: 'reload', command: 'systemctl reload postgresql@15-main' });
  });

  test('running, nothing notified, facts fresh: ok with no read at all', async () => {
    const cc = clusterFixture({ members: [h1], facts: { h1: nodeFacts('PRIMARY') } });
    const view = fixtureView({ host: 'h1' });
    expect(await planned(serviceRole(cc, 'h1')[0]!, view)).toEqual({ kind: 'ok', reason: 'running' });
    expect(view.readsMade).toEqual([]);
  });

  test('changed by this run (facts stale): one look at the pid file, then ok or start', async () => {
    const cc = clusterFixture({ members: [h1], facts: { h1: nodeFacts('PRIMARY') }, touched: ['h1'] });
    const up = fixtureView({ host: 'h1', reads: [status(true)] });
    expect(await planned(serviceRole(cc, 'h1')[0]!, up)).toEqual({ kind: 'ok', reason: 'running' });
    expect(up.readsMade).toHaveLength(1);
    const down = fixtureView({ host: 'h1', reads: [status(false)], notified: ['postgresql-reload'] });
    // A stopped server starts with the files written: the reload notified before is done by the start.
    const plan = await planned(serviceRole(cc, 'h1')[0]!, down);
    expect(plan).toMatchObject({ kind: 'change', summary: 'start PostgreSQL' });
    expect((plan.actions as Record<string, unknown>[]).map((a) => a.kind)).toEqual(['service', 'notify']);
    expect((plan.actions as Record<string, unknown>[])[1]).toEqual({ kind: 'notify', handler: 'postgresql-reload', handled: true });
  });
});
