import { isIP } from 'node:net';

const BRACKETED = /^\[([^\]]+)\](?::(\d{1,5}))?$/;
const IPV4_WITH_PORT = /^([\d.]+):(\d{1,5})$/;

/**
 * The address an `X-Forwarded-For` entry names, without the port a proxy may have written:
 * `203.0.113.5`, `203.0.113.5:50312`, `2001:db8::1`, `[2001:db8::1]` and `[2001:db8::1]:443`
 * all name an address. An IPv6 address with a port must be bracketed (`2001:db8::1:443` is an
 * address of its own). Null for anything else: a hostname, `unknown`, a port out of range, text.
 */
export function forwardedAddress(entry: string): string | null {
  if (isIP(entry) !== 0) return entry;
  const bracketed = BRACKETED.exec(entry);
  if (bracketed) return isIP(bracketed[1]!) === 6 && isPort(bracketed[2]) ? bracketed[1]! : null;
  const withPort = IPV4_WITH_PORT.exec(entry);
  return withPort && isIP(withPort[1]!) === 4 && isPort(withPort[2]) ? withPort[1]! : null;
}

const isPort = (digits: string | undefined) => digits === undefined || Number(digits) <= 65_535;
