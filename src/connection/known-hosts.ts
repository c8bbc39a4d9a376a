import { createHmac } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export type HostKeyChecking = 'strict' | 'accept-new' | 'off';

/** OpenSSH writes non-default ports as "[host]:port". */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function matchesPattern(pattern: string, name: string): boolean {
  if (pattern.startsWith('|1|')) {
    // Hashed entry (HashKnownHosts yes): |1|base64(salt)|base64(hmac-sha1(salt, name))
    const [, , salt, hash] = pattern.split('|');
    if (!salt || !hash) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  return pattern.split(',').some((p) => p === name);
}

export interface KnownHostEntry {
  keyType: string;
  key: string; // base64 blob
}

export function parseKnownHosts(text: string, name: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    if (fields[0]?.startsWith('@')) continue; // @cert-authority / @revoked: not supported, never match
    const [patterns, keyType, key] = fields;
    if (patterns && keyType && key && matchesPattern(patterns, name)) entries.push({ keyType, key });
  }
  return entries;
}

/** The key type is the first length-prefixed string of the SSH wire-format public key. */
export function keyTypeOf(blob: Buffer): string {
  const len = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + len).toString('ascii');
}

export type Verdict = { ok: true; learned?: string } | { ok: false; reason: string };

/**
 * Decides whether a presented host key is acceptable. Pure, so the policy is unit-tested without SSH;
 * the caller appends `learned` to the file (accept-new).
 */
export function verifyHostKey(knownHostsText: string, name: string, blob: Buffer, mode: HostKeyChecking): Verdict {
  if (mode === 'off') return { ok: true };
  const presented = blob.toString('base64');
  const entries = parseKnownHosts(knownHostsText, name);
  if (entries.some((e) => e.key === presented)) return { ok: true };
  if (entries.length > 0) {
    return { ok: false, reason: `host key for ${name} has CHANGED (does not match known_hosts); refusing to connect` };
  }
  if (mode === 'accept-new') return { ok: true, learned: `${name} ${keyTypeOf(blob)} ${presented}\n` };
  return { ok: false, reason: `no host key for ${name} in known_hosts (ssh_host_key_checking: strict)` };
}

export async function readKnownHosts(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

export async function learnHostKey(file: string, line: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await appendFile(file, line, { mode: 0o600 });
}
