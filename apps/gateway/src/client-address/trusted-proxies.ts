import { isIP } from 'node:net';

/** The ranges behind the presets, as proxy-addr (and so Express and Fastify) define them. */
export const PRESET_RANGES: Readonly<Record<string, readonly string[]>> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

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
  if (Object.hasOwn(PRESET_RANGES, entry)) return true;
  const slash = entry.indexOf('/');
  if (slash < 0) return isIP(entry) !== 0;
  const version = isIP(entry.slice(0, slash));
  const bits = entry.slice(slash + 1);
  if (version === 0 || !/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (version === 4 ? 32 : 128);
}
