import type { IncomingHttpHeaders } from 'node:http';
import type { DecidedKey } from '@keyplane/contracts';

/** RFC 9110 §7.6.1: headers that belong to one connection, which a proxy never passes on. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

const isHopByHop = (name: string) => HOP_BY_HOP.has(name);
/**
 * The connection's own headers, the credential, any `X-Keyplane-*` a client sent to pass for
 * some key or account, and `Expect`: the gateway has answered it and read the body already
 * (and undici refuses to send one).
 */
const isNotForUpstreamAsIs = (name: string) =>
  isHopByHop(name) || name === 'authorization' || name === 'proxy-authorization' || name === 'expect' || name.startsWith('x-keyplane-');

/** Besides its X-Keyplane-* headers, those the gateway sets on every upstream request. */
const SET_HERE = new Set(['x-request-id', 'x-forwarded-for']);

/**
 * Servers that map headers to CGI-style variables (Rack, PHP, WSGI) read `X_Keyplane_Account_Id`
 * as `X-Keyplane-Account-Id`, and may take it over the one the gateway set (Puma's
 * CVE-2024-45614), so a name with `_` is judged as if it had `-`, and one that would pass for a
 * header the gateway sets is dropped too.
 */
const isNotForUpstream = (name: string) => {
  if (!name.includes('_')) return isNotForUpstreamAsIs(name);
  const read = name.replaceAll('_', '-');
  return isNotForUpstreamAsIs(read) || SET_HERE.has(read);
};

/**
 * The request headers the upstream sees: none of one connection's, never the credential, never
 * a client's claim to be some key or account, only what auth's decision established.
 * `X-Forwarded-For` gains the gateway's TCP peer, as any reverse proxy adds it: the upstream
 * can trust the entries its own proxies added, counted from the right, and nothing before.
 */
export function upstreamHeaders(received: IncomingHttpHeaders, key: DecidedKey, requestId: string, peer: string | undefined): IncomingHttpHeaders {
  const headers = dropHeaders(received, isNotForUpstream);
  headers['x-keyplane-key-id'] = key.keyId;
  headers['x-keyplane-account-id'] = key.accountId;
  headers['x-keyplane-environment'] = key.environment;
  headers['x-request-id'] = requestId;
  if (peer !== undefined) {
    const forwarded = headers['x-forwarded-for'];
    headers['x-forwarded-for'] = forwarded ? `${forwarded}, ${peer}` : peer;
  }
  return headers;
}

/**
 * Rate-limit headers of any family (`X-RateLimit-*`, the IETF draft's `RateLimit`,
 * `RateLimit-Policy` and its older `RateLimit-*`): on a gateway answer they are the key's own
 * numbers (DESIGN §5), which the upstream does not know. `Retry-After` is not one of them: on a
 * proxied answer it belongs to the upstream's own status (its 503 or 429), so it is kept.
 */
const isRateLimit = (name: string) => name.startsWith('x-ratelimit-') || name === 'ratelimit' || name.startsWith('ratelimit-');
const isNotForClient = (name: string) => isHopByHop(name) || isRateLimit(name);

/** The upstream's answer headers the client sees: none of the upstream connection's, and the gateway's rate-limit headers rather than the upstream's. */
export function upstreamAnswerHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return dropHeaders(headers, isNotForClient);
}

/**
 * The headers but those `drop` names and those the `Connection` header names: they are meant for
 * the next hop only, and each side of the gateway is a connection of its own. The gateway's own
 * headers are set after this or apart from these, so naming one of them in `Connection` removes
 * nothing. A copy, not deletes: an object that loses properties turns slow for every later read
 * (`delete` was 2 % of the gateway's CPU, and the copy takes a third of its time, measured alone).
 */
function dropHeaders(headers: IncomingHttpHeaders, drop: (name: string) => boolean): IncomingHttpHeaders {
  const listed = typeof headers.connection === 'string' ? headers.connection.split(',').map((name) => name.trim().toLowerCase()) : [];
  const kept: IncomingHttpHeaders = {};
  for (const name of Object.keys(headers)) if (!drop(name) && !listed.includes(name)) kept[name] = headers[name];
  return kept;
}
