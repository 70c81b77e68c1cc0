import type { IncomingHttpHeaders } from 'node:http';
import { BlockList, isIP } from 'node:net';
import { forwardedAddress } from './forwarded-address.js';
import { PRESET_RANGES } from './trusted-proxies.js';

export interface ArrivingRequest {
  socket: { remoteAddress?: string };
  headers: IncomingHttpHeaders;
}

/**
 * The client address of a request, given the `TRUSTED_PROXIES` list (already checked by
 * `parseTrustedProxies`): the TCP peer, or, from a trusted peer, the nearest `X-Forwarded-For`
 * entry that no trusted proxy added, read from the right.
 *
 * An entry is read as its address whether or not the proxy wrote a port (`10.0.0.5:1234`,
 * `[2001:db8::1]:443`, as Azure's Application Gateway and some Envoy and nginx set-ups do), so a
 * trusted proxy's entry carries the walk on. An entry that is no address (`unknown`, a hostname,
 * garbage) was written by the trusted hop to its right, which could not, or would not, say who
 * its client was: the walk stops at that hop, the farthest address known for certain. Reading
 * past it would take the next entry, which whoever was before that hop wrote, client included.
 */
export function clientAddressOf(trustedProxies: readonly string[]): (request: ArrivingRequest) => string {
  const trusted = trustList(trustedProxies);
  return ({ socket, headers }) => {
    let nearest = socket.remoteAddress ?? '';
    const forwarded = headers['x-forwarded-for'];
    if (trusted === null || forwarded === undefined) return nearest;
    // Node joins repeated X-Forwarded-For lines into one string; the type allows a list as well.
    const entries = (Array.isArray(forwarded) ? forwarded.join(',') : forwarded).split(',');
    for (let i = entries.length - 1; i >= 0 && isTrusted(trusted, nearest); i--) {
      const next = forwardedAddress(entries[i]!.trim());
      if (next === null) return nearest;
      nearest = next;
    }
    return nearest;
  };
}

function trustList(entries: readonly string[]): BlockList | null {
  if (entries.length === 0) return null;
  const list = new BlockList();
  for (const entry of entries.flatMap((name) => (Object.hasOwn(PRESET_RANGES, name) ? PRESET_RANGES[name]! : [name]))) {
    const [address = '', bits] = entry.split('/');
    const type = isIP(address) === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(bits), type);
  }
  return list;
}

/** BlockList matches an IPv4-mapped IPv6 peer (`::ffff:10.0.0.1`) against IPv4 ranges too. */
function isTrusted(list: BlockList, address: string): boolean {
  const version = isIP(address);
  return version !== 0 && list.check(address, version === 4 ? 'ipv4' : 'ipv6');
}
