import { isIP } from 'node:net';

/** Names Fastify's proxy-addr expands to the usual private ranges. */
const PRESETS = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * `TRUSTED_PROXIES`: the load balancers and ingress controllers allowed to say who the client
 * is. A comma-separated list of addresses, CIDR ranges (`10.0.0.0/8`) and the presets
 * `loopback`, `linklocal`, `uniquelocal`. Empty (the default) trusts nobody: the client address
 * is the TCP peer, and `X-Forwarded-For` is ignored, so a client cannot choose the address its
 * requests are metered and alerted under.
 */
export function parseTrustedProxies(value: string | undefined): string[] {
  if (value === undefined || value.trim() === '') return [];
  return value.split(',').map((raw) => {
    const entry = raw.trim();
    if (!isTrustedProxy(entry)) {
      throw new Error(`TRUSTED_PROXIES must list addresses, CIDR ranges or loopback/linklocal/uniquelocal, got "${entry}"`);
    }
    return entry;
  });
}

function isTrustedProxy(entry: string): boolean {
  if (PRESETS.has(entry)) return true;
  const slash = entry.indexOf('/');
  if (slash < 0) return isIP(entry) !== 0;
  const version = isIP(entry.slice(0, slash));
  const bits = entry.slice(slash + 1);
  if (version === 0 || !/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (version === 4 ? 32 : 128);
}
