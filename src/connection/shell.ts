import { quote } from 'zx/core';

/**
 * Builds a shell command, quoting every interpolated value, so host names, paths and SQL
 * identifiers from the inventory can never break out of their argument.
 */
export function sh(strings: TemplateStringsArray, ...values: unknown[]): string {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += Array.isArray(value) ? value.map((v) => quote(String(v))).join(' ') : quote(String(value));
    out += strings[i + 1] ?? '';
  });
  return out;
}

export { quote };

/** Wraps a command so it runs as another user: runuser when we are root (no sudo needed), else sudo. */
export function asUser(command: string, user: string, loginUser: string): string {
  if (user === loginUser) return command;
  if (loginUser === 'root') return `runuser -u ${quote(user)} -- sh -c ${quote(command)}`;
  return `sudo -n -H -u ${quote(user)} -- sh -c ${quote(command)}`;
}
