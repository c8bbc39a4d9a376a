/**
 * POSIX single-quoting: the one quoting that needs no exceptions. (zx/core has the same function,
 * but importing it costs ~200 ms of start-up, a fifth of a whole no-op run.)
 */
export function quote(value: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

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


/** Wraps a command so it runs as another user: runuser when we are root (no sudo needed), else sudo. */
export function asUser(command: string, user: string, loginUser: string): string {
  if (user === loginUser) return command;
  // From / : the login user's home is often unreadable to the target user, and tools complain.
  const inRoot = `cd / && ${command}`;
  if (loginUser === 'root') return `runuser -u ${quote(user)} -- sh -c ${quote(inRoot)}`;
  return `sudo -n -H -u ${quote(user)} -- sh -c ${quote(inRoot)}`;
}
