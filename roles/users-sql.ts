import type { ClusterContext } from '../src/cluster/cluster-context.js';
import { sqlAction, type SqlAction } from '../src/engine/action.js';
import type { HostView } from '../src/engine/host-view.js';
import type { Secrets } from '../src/engine/secrets.js';
import { lit } from '../src/steps/postgres.js';

/* What the users and databases steps (roles/users.ts, roles/databases.ts) share: options, what one step tells the next, the SQL form. */

export interface UsersOptions {
  /** Password per present login user (from its password_file or the credentials folder). */
  passwords: Map<string, string>;
  /** The run's secrets: each verifier computed is registered, so an error echoing the SQL shows none. */
  secrets?: Secrets;
  /** A refusal (the run exits 1): what would lose data, with what it would lose. */
  refuse: (text: string) => void;
}

/** What the steps of one run learn from each other: the later ones plan after the earlier ones' SQL ran (or, in --check, would have). */
export interface Shared {
  /** Databases there are (or, in --check, would be) at the databases step's end. */
  databases: Set<string>;
  /** Created by this run: in --check they are not there to be asked. */
  creating: Set<string>;
  /** Roles this run creates (in --check, not there yet). */
  creatingRoles: Set<string>;
}

const PASSWORD_LITERAL = /PASSWORD '[^']*'/g;
const masked = (sql: string) => sql.replace(PASSWORD_LITERAL, "PASSWORD '********'");

/** Statements in one transaction, committed locally: a sync replica not built yet must not hold them up. */
export function transactionSql(lines: string[]): string {
  return `BEGIN;\nSET LOCAL synchronous_commit = local;\n${lines.join(';\n')};\nCOMMIT;`;
}

export function usersSqlAction(port: number, lines: string[], db = 'postgres'): SqlAction {
  const sql = transactionSql(lines);
  return sqlAction(port, sql, db, sql.includes("PASSWORD '") ? masked(sql) : undefined);
}

export const inList = (names: string[]) => names.map(lit).join(', ');
export const uniq = <T>(xs: T[]) => [...new Set(xs)];

/** A fresh cluster in --check: nothing to ask, everything is to be made. */
export const nothingThere = (cc: ClusterContext, view: HostView) => view.check && cc.plan.primaryAction === 'bootstrap';

export function newShared(): Shared {
  return { databases: new Set(), creating: new Set(), creatingRoles: new Set() };
}
