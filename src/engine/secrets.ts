/**
 * Values that must never reach the terminal or a log. Everything the reporters print goes through
 * mask(), so a password that slips into a command's stderr is still hidden.
 */
const secrets = new Set<string>();

export function registerSecret(value: string): string {
  if (value.length >= 4) secrets.add(value);
  return value;
}

export function mask(text: string): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join('********');
  return out;
}
