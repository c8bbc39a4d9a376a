import { Option } from 'commander';
import type { z } from 'zod';

interface FieldInfo {
  kind: string;
  optional: boolean;
  defaultValue: unknown;
  description?: string;
  choices?: string[];
}

/** Reads what a flag needs from a zod field: its base type, optionality, default, help and choices. */
export function fieldInfo(field: z.ZodType): FieldInfo {
  let t = field as z.ZodType;
  let optional = false;
  let defaultValue: unknown;
  let description = field.description;
  for (;;) {
    const def = (t as unknown as { _zod: { def: { type: string; innerType?: z.ZodType; defaultValue?: unknown } } })._zod.def;
    if (def.type === 'default') defaultValue = def.defaultValue;
    else if (def.type !== 'optional' && def.type !== 'nullable') break;
    optional = true;
    t = def.innerType!;
    description ??= t.description;
  }
  const def = (t as unknown as { _zod: { def: { type: string; entries?: Record<string, string> } } })._zod.def;
  return { kind: def.type, optional, defaultValue, description, choices: def.entries ? Object.values(def.entries) : undefined };
}

export const kebab = (key: string): string => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** One commander Option per schema key; the schema stays the single source of truth (zod validates). */
export function optionsFromSchema(schema: z.ZodObject): Option[] {
  const options: Option[] = [];
  for (const [key, field] of Object.entries(schema.shape)) {
    const info = fieldInfo(field as z.ZodType);
    const flag = kebab(key);
    const help = info.description ?? '';
    if (info.kind === 'boolean') {
      options.push(new Option(`--${flag}`, help));
      if (info.defaultValue === true) options.push(new Option(`--no-${flag}`, `do not ${help || flag}`));
      continue;
    }
    const placeholder = info.kind === 'number' ? '<n>' : `<${flag.split('-').pop()}>`;
    const opt = new Option(`--${flag} ${placeholder}`, help);
    if (info.kind === 'number') opt.argParser((v: string) => Number(v));
    // A list (z.array): the flag may be given several times, each value added (`--user a --user b`).
    if (info.kind === 'array') opt.argParser((v: string, previous: unknown) => [...(Array.isArray(previous) ? (previous as string[]) : []), v]);
    if (info.choices) opt.choices(info.choices);
    if (info.defaultValue !== undefined) opt.default(info.defaultValue);
    if (!info.optional) opt.makeOptionMandatory();
    options.push(opt);
  }
  return options;
}

/** Flags (long form) that take a value: needed to tell a task name from an option's value in argv. */
export function valueFlags(schema: z.ZodObject): Set<string> {
  const out = new Set<string>();
  for (const [key, field] of Object.entries(schema.shape)) {
    if (fieldInfo(field as z.ZodType).kind !== 'boolean') out.add(`--${kebab(key)}`);
  }
  return out;
}

/** Every flag a task accepts (`--no-x` included) and those that take a value: for splitting argv. */
export function taskFlagSpec(schema: z.ZodObject): { names: Set<string>; withValue: Set<string> } {
  const names = new Set(optionsFromSchema(schema).map((o) => o.long!));
  return { names, withValue: valueFlags(schema) };
}
