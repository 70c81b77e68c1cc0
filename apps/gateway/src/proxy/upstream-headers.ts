import type { IncomingHttpHeaders } from 'node:http';
import type { DecidedKey } from '@keyplane/contracts';

/** RFC 9110 §7.6.1: headers that belong to one connection, which a proxy never passes on. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

const isHopByHop = (name: string) => HOP_BY_HOP.has(name);
/** The connection's own headers, the credential, and any `X-Keyplane-*` a client sent to pass for some key or account. */
const isNotForUpstream = (name: string) => isHopByHop(name) || name === 'authorization' || name === 'proxy-authorization' || name.startsWith('x-keyplane-');

/**
 * The request headers the upstream sees: none of one connection's, never the credential, never
 * a client's claim to be some key or account, only what auth's decision established.
 * `X-Forwarded-For` gains the gateway's TCP peer, as any reverse proxy adds it: the upstream
 * can trust the entries its own proxies added, counted from the right, and nothing before.
 */
export function upstreamHeaders(headers: IncomingHttpHeaders, key: DecidedKey, requestId: string, peer: string | undefined): IncomingHttpHeaders {
  dropHeaders(headers, isNotForUpstream);
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

/** The upstream's answer headers the client sees: none of the upstream connection's. */
export function withoutHopByHop(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return dropHeaders(headers, isHopByHop);
}

/**
 * Deletes, in one pass, the headers `drop` names and those the `Connection` header names: they
 * are meant for the next hop only, and each side of the gateway is a connection of its own.
 * The gateway's own headers are set after this or apart from these, so naming one of them in
 * `Connection` removes nothing.
 */
function dropHeaders(headers: IncomingHttpHeaders, drop: (name: string) => boolean): IncomingHttpHeaders {
  const listed = headers.connection;
  if (typeof listed === 'string') for (const name of listed.split(',')) delete headers[name.trim().toLowerCase()];
  for (const name of Object.keys(headers)) if (drop(name)) delete headers[name];
  return headers;
}
