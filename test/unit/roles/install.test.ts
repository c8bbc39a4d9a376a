import { describe, expect, test } from 'vitest';
import { installRole } from '../../../roles/install.js';
import { fixtureView, planned } from '../helpers/role-fixture.js';

const system = (majors: number[]) => ({
  hostname: 'h1',
  os: 'debian:12',
  postgresMajors: majors,
  systemd: false,
  hasSudo: true,
  pgbouncerInstalled: false,
  pgbouncerRunning: false,
  pgbouncerPausedMarker: false,
});

describe('install role: {facts} -> actions', () => {
  test('binaries present: nothing to do, and says why', async () => {
    const [s] = installRole(15);
    expect(await planned(s!, fixtureView({ host: 'h1', facts: { system: system([15]) } }))).toEqual({ kind: 'ok', reason: 'postgresql 15 present' });
  });

  test('another major present: installs the one asked for, as root, without a main cluster', async () => {
    const [s] = installRole(16);
    const plan = await planned(s!, fixtureView({ host: 'h1', facts: { system: system([15]) } }));
    expect(plan).toMatchObject({ kind: 'change', summary: 'apt-get install postgresql-16', actions: [{ kind: 'run', user: 'root' }] });
    const command = (plan.actions as { command: string }[])[0]!.command;
    expect(command).toContain("echo 'create_main_cluster = false'");
    expect(command).toContain('apt-get install -y -q postgresql-16 postgresql-client-16');
    expect(command).not.toContain('apt.postgresql.org');
  });

  test('pg_pgdg_repo: the PGDG repository is added first', async () => {
    const [s] = installRole(17, { pgdg: true });
    const plan = await planned(s!, fixtureView({ host: 'h1', facts: { system: system([]) } }));
    expect((plan.actions as { command: string }[])[0]!.command).toMatch(/apt\.postgresql\.org[\s\S]*apt-get install -y -q postgresql-17/);
  });
});
