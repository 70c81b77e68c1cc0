import { isIP } from 'node:net';

/**
 * The client address as usage events record it: one spelling per address, so metering's
 * per-address detectors (new_source, auth_failure_burst) see one source where there is one.
 * Some proxies write the client's port into X-Forwarded-For (`203.0.113.5:50312`, Azure's
 * Application Gateway among them), and an address may come bracketed, in another IPv6
 * spelling, or IPv4-mapped: each request would otherwise be a "new" address, and a burst of
 * 401s spread over ports would never reach a threshold. Text that is no address is kept as is.
 */
export function canonicalAddress(text: string): string {
  const address = withoutPort(text.trim());
  const version = isIP(address);
  if (version === 4) return address;
  if (version !== 6) return text;
  // A zone id (`fe80::1%eth0`) is no URL host; its address part is written the usual way.
  const zone = address.indexOf('%');
  const bare = zone < 0 ? address : address.slice(0, zone);
  const canonical = new URL(`http://[${bare}]`).hostname.slice(1, -1);
  // The URL writes an IPv4-mapped address in hex (`::ffff:7f00:1`): it is that IPv4 address.
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
  if (mapped && zone < 0) return dottedQuad(parseInt(mapped[1]!, 16), parseInt(mapped[2]!, 16));
  return zone < 0 ? canonical : `${canonical}${address.slice(zone)}`;
}

/** `[v6]:port`, `[v6]` and `v4:port` without the brackets and the port; anything else unchanged. */
function withoutPort(text: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(text);
  if (bracketed) return bracketed[1]!;
  const v4WithPort = /^([^:]+):\d{1,5}$/.exec(text);
  return v4WithPort ? v4WithPort[1]! : text;
}

const dottedQuad = (high: number, low: number) => [high >> 8, high & 255, low >> 8, low & 255].join('.');
