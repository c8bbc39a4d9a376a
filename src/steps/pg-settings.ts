import { settingsFromDescribeConfig, settingsFromRows, type SettingInfo } from '../cluster/parameter-check.js';
import { script, sh } from '../connection/shell.js';
import { reads, type HostView } from '../engine/host-view.js';
import { query } from './postgres.js';

/** What the checks need of pg_settings, one row per setting, in the order settingsFromRows reads. */
export const SETTINGS_SQL = `select name, vartype, context, coalesce(unit, ''), coalesce(min_val, ''), coalesce(max_val, ''),
  coalesce(array_to_string(enumvals, ','), ''), coalesce(boot_val, ''), coalesce(setting, ''), coalesce(source, ''), coalesce(sourcefile, ''), coalesce(current_setting(name, true), '')
from pg_settings`;

const postgresBin = (version: number) => `/usr/lib/postgresql/${version}/bin/postgres`;

/** Every setting of the running server: types, ranges, enum values and current values. */
export async function serverSettings(ctx: HostView, port: number): Promise<Map<string, SettingInfo>> {
  return settingsFromRows(await query(ctx, port, `${SETTINGS_SQL};`));
}

/**
 * Every setting the installed server binary lists, with no server running (a new cluster): names,
 * types, contexts and unit-less ranges. It leaves out developer settings (zero_damaged_pages...) and
 * some others (application_name): a name missing here is only a suspect for postgresVerdicts.
 */
export async function describedSettings(ctx: HostView, version: number): Promise<Map<string, SettingInfo>> {
  const { stdout } = await ctx.read(reads(sh`${postgresBin(version)} --describe-config`), { user: 'postgres' });
  return settingsFromDescribeConfig(stdout);
}

/**
 * PostgreSQL's own verdict on `name = value` pairs: `postgres -C` parses them as at server start (names,
 * values, units, ranges, check hooks) and exits; no server is involved. Per pair, PostgreSQL's error
 * message, or undefined when it accepts it. One round trip for all the pairs.
 */
export async function postgresVerdicts(ctx: HostView, version: number, pairs: { name: string; value: string }[]): Promise<(string | undefined)[]> {
  if (!pairs.length) return [];
  // -D: any directory without a postgresql.auto.conf will do; postgres's home always exists.
  const checks = script(
    sh`check() { out=$(${postgresBin(version)} -D /var/lib/postgresql --config-file=/dev/null -c "$1=$2" -C "$1" 2>&1 >/dev/null); echo "@@ $?"; printf '%s\\n' "$out" | sed -n 's/^.*\\(FATAL\\|ERROR\\|DETAIL\\|HINT\\): *//p'; }`,
    ...pairs.map((p) => sh`check ${p.name} ${p.value}`),
  );
  const { stdout } = await ctx.read(reads(checks), { user: 'postgres' });
  // Each check prints "@@ <exit code>" and then PostgreSQL's message lines.
  return stdout
    .split(/^@@ /m)
    .slice(1)
    .map((block) => {
      const [code, ...message] = block.split('\n');
      return Number(code) === 0
        ? undefined
        : message
            .map((l) => l.trim())
            .filter(Boolean)
            .join(' ') || `rejected (exit ${code})`;
    });
}

export interface FileSettingError {
  file: string;
  line: string;
  name: string;
  value: string;
  error: string;
  /** pg_settings.context of the setting ('' for unknown names). */
  context: string;
}

/**
 * The lines of the configuration files that PostgreSQL cannot apply. pg_file_settings reads the files
 * when queried, so this judges the files on disk now, before any reload. A changed restart-only
 * setting shows here too ("setting could not be applied"): the caller tells those apart.
 */
export async function fileSettingErrors(ctx: HostView, port: number): Promise<FileSettingError[]> {
  const rows = await query(
    ctx,
    port,
    `select coalesce(f.sourcefile, ''), coalesce(f.sourceline::text, ''), coalesce(f.name, ''), coalesce(f.setting, ''), f.error, coalesce(s.context, '')
from pg_file_settings f left join pg_settings s on lower(s.name) = lower(f.name) where f.error is not null order by f.seqno;`,
  );
  return rows.map(([file, line, name, value, error, context]) => ({
    file: file!,
    line: line!,
    name: name!,
    value: value!,
    error: error!,
    context: context ?? '',
  }));
}
