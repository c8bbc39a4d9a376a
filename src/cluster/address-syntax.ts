import { isIP } from 'node:net';

/*
 * What a host name, an address and a DNS name may look like. Names and addresses from the inventory
 * reach commands (pg_basebackup -h, nsupdate's script), configuration files (primary_conninfo,
 * pg_hba.conf, pgbouncer.ini, /etc/hosts) and SSH. Commands quote them, but a file line has no
 * quoting: so they are checked when the inventory loads to be what they claim to be, and nothing that
 * could add a line. (No imports but node's: pg-vars-schema.ts uses these while it is being defined.)
 */

const CONTROL = /[\x00-\x1f\x7f]/;

/** RFC 1123 labels (letters, digits, hyphens, not at either end), `_` too as many internal names have it. */
const HOST_LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;
/** A DNS name's labels: letters, digits and hyphens only. */
const DNS_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

function labelled(name: string, label: RegExp): boolean {
  const bare = name.endsWith('.') ? name.slice(0, -1) : name;
  return bare.length > 0 && bare.length <= 253 && bare.split('.').every((l) => label.test(l));
}

/** A host name (db1, db1.example.com) or an IPv4/IPv6 address. */
export function isHostAddress(value: string): boolean {
  return isIP(value) !== 0 || labelled(value, HOST_LABEL);
}

/** A DNS name as clients resolve it: letters, digits, hyphens and dots (a trailing dot allowed). */
export function isDnsName(value: string): boolean {
  return labelled(value, DNS_LABEL);
}

/** One line of text: no newline or other control character. */
export function isOneLine(value: string): boolean {
  return !CONTROL.test(value);
}

export const HOST_ADDRESS_MESSAGE = 'must be a host name or an IP address';
export const DNS_NAME_MESSAGE = 'must be a DNS name: letters, digits, hyphens and dots';
export const ONE_LINE_MESSAGE = 'must be one line (no newline or control character)';
