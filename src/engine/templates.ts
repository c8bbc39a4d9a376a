import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type nunjucks from 'nunjucks';
import { warmUpLater } from './warm-up.js';

/** nunjucks (CommonJS) loads on the first render: runs that render nothing never pay for it. */
const loadNunjucks = () => createRequire(import.meta.url)('nunjucks') as typeof nunjucks;

/** For the modules that render (the roles writing config files): nunjucks then loads while the run's hosts connect. */
export const renderLater = () => warmUpLater(loadNunjucks);

/** The project's templates/ folder, found from here whether running from src/ or dist/src/. */
function templatesDir(): string[] {
  return [fileURLToPath(new URL('../../templates', import.meta.url)), fileURLToPath(new URL('../../../templates', import.meta.url))];
}

/**
 * Jinja2-family rendering (nunjucks) so Ansible users read templates/*.j2 as they would in a role.
 * Undefined variables are errors, as with Ansible's default, so a typo never renders as empty.
 * One per Run (never module-wide), with its own compiled-template cache: a run's extra template
 * folders cannot leak into another run of the same process.
 */
export class Templates {
  private env?: nunjucks.Environment;

  /** `extraDirs` are searched before the project's templates/ (a team's own overrides). */
  constructor(private readonly extraDirs: string[] = []) {}

  private environment(): nunjucks.Environment {
    if (!this.env) {
      const nunjucks = loadNunjucks();
      this.env = new nunjucks.Environment(new nunjucks.FileSystemLoader([...this.extraDirs, ...templatesDir()], { noCache: false }), {
        autoescape: false,
        throwOnUndefined: true,
        trimBlocks: true,
        lstripBlocks: true,
      });
      this.env.addFilter('pgquote', (v: unknown) => pgConfValue(v));
    }
    return this.env;
  }

  render(name: string, vars: Record<string, unknown>): string {
    return this.environment().render(name, vars);
  }
}

/** postgresql.conf value syntax: numbers and booleans bare, everything else single-quoted. */
export function pgConfValue(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'boolean') return String(v === true ? 'on' : v === false ? 'off' : v);
  return `'${String(v).replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}
