/*
 * Shell text by construction. A Connection runs only a Command, and a Command is made only here:
 * by sh`` (every interpolated value quoted as one word), by raw() (text written in the source, with
 * no value in it), or by composing Commands (script, and, inline). So a value from the inventory
 * cannot reach a shell unquoted: code that splices one into a plain string does not compile.
 */

declare const commandBrand: unique symbol;

/** Shell text whose every value was quoted by sh``: what Connection.run and start accept. */
export type Command = string & { readonly [commandBrand]: true };

const INLINE = Symbol('inline');

/** A Command to splice into sh`` as shell text (see inline()), not as one quoted word. */
export interface InlineCommand {
  readonly [INLINE]: Command;
}

/** What sh`` takes: a word (strings, numbers), words (an array: one word each), or inline(command). */
export type ShellValue = string | number | bigint | readonly (string | number)[] | InlineCommand;

/**
 * POSIX single-quoting: the one quoting that needs no exceptions. (zx/core has the same function,
 * but importing it costs ~200 ms of start-up, a fifth of a whole no-op run.)
 */
export function quote(value: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

const isInline = (v: unknown): v is InlineCommand => typeof v === 'object' && v !== null && INLINE in v;

/**
 * Builds a command, quoting every interpolated value as one word (an array as one word per element),
 * so host names, paths and values from the inventory can never break out of their argument. A Command
 * given as a value is quoted too (it becomes one argument, as for `sh -c`); to splice one in as shell
 * text, give inline(command).
 */
export function sh(strings: TemplateStringsArray, ...values: ShellValue[]): Command {
  // A tagged template with an invalid escape (\1, \d) has no cooked text for that part: it would be
  // dropped without a word. Write such backslashes doubled (\\1).
  if (strings.some((s) => s === undefined)) throw new Error(`sh\`${strings.raw.join('${…}')}\`: an invalid escape sequence drops text; double the backslash`);
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    if (isInline(value)) out += value[INLINE];
    else if (Array.isArray(value)) out += value.map((v) => quote(String(v))).join(' ');
    else out += quote(String(value));
    out += strings[i + 1] ?? '';
  });
  return out as Command;
}

/**
 * T itself when it is one string known at compile time; never for string, or a template type with a
 * hole (`x ${string}`): a mapping keyed by such a type is an index signature, which {} satisfies.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
type Literal<T extends string> = {} extends Record<T, 1> ? never : T;

/**
 * Shell text written in the source: only a string literal (or a constant of a literal type) compiles
 * here, never a string computed at run time, so no value can hide in it.
 */
export function raw<T extends string>(text: Literal<T>): Command {
  return text as string as Command;
}

/** A Command spliced into sh`` as shell text: `sh\`${inline(stop)} || true\``. */
export function inline(command: Command): InlineCommand {
  return { [INLINE]: command };
}

/** Commands as the lines of one script. */
export function script(...lines: Command[]): Command {
  return lines.join('\n') as Command;
}

/** Commands run one after the other while each succeeds (`a && b`). */
export function and(...commands: Command[]): Command {
  return commands.join(' && ') as Command;
}

/** Wraps a command so it runs as another user: runuser when we are root (no sudo needed), else sudo. */
export function asUser(command: Command, user: string, loginUser: string): Command {
  if (user === loginUser) return command;
  // From / : the login user's home is often unreadable to the target user, and tools complain.
  const inRoot = sh`cd / && ${inline(command)}`;
  if (loginUser === 'root') return sh`runuser -u ${user} -- sh -c ${inRoot}`;
  return sh`sudo -n -H -u ${user} -- sh -c ${inRoot}`;
}
