import { fileURLToPath } from 'node:url';
import nunjucks from 'nunjucks';

/** The project's templates/ folder, found from here whether running from src/ or dist/src/. */
function templatesDir(): string[] {
  return [fileURLToPath(new URL('../../templates', import.meta.url)), fileURLToPath(new URL('../../../templates', import.meta.url))];
}

let env: nunjucks.Environment | undefined;

/**
 * Jinja2-family rendering (nunjucks) so Ansible users read templates/*.j2 as they would in a role.
 * Undefined variables are errors, as with Ansible's default, so a typo never renders as empty.
 */
export function templateEnv(extraDirs: string[] = []): nunjucks.Environment {
  if (!env || extraDirs.length) {
    env = new nunjucks.Environment(new nunjucks.FileSystemLoader([...extraDirs, ...templatesDir()], { noCache: false }), {
      autoescape: false,
      throwOnUndefined: true,
      trimBlocks: true,
      lstripBlocks: true,
    });
    env.addFilter('pgquote', (v: unknown) => pgConfValue(v));
  }
  return env;
}

/** postgresql.conf value syntax: numbers and booleans bare, everything else single-quoted. */
export function pgConfValue(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'boolean') return String(v === true ? 'on' : v === false ? 'off' : v);
  return `'${String(v).replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

export function render(name: string, vars: Record<string, unknown>): string {
  return templateEnv().render(name, vars);
}
