import type { IncomingHttpHeaders } from 'node:http';
import type { DecidedKey } from '@keyplane/contracts';

/**
 * The request headers the upstream sees: never the credential, never a client's claim to be
 * some key or account (any `X-Keyplane-*` it sent), only what auth's decision established.
 * `X-Forwarded-For` gains the gateway's TCP peer, as any reverse proxy adds it: the upstream
 * can trust the entries its own proxies added, counted from the right, and nothing before.
 */
export function upstreamHeaders(headers: IncomingHttpHeaders, key: DecidedKey, requestId: string, peer: string | undefined): IncomingHttpHeaders {
  for (const name of Object.keys(headers)) {
    if (name === 'authorization' || name === 'proxy-authorization' || name.startsWith('x-keyplane-')) delete headers[name];
  }
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

/** RFC 9110 §7.6.1: headers that belong to one connection, which a proxy never passes on. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/**
 * The headers minus the connection-level ones and those the `Connection` header names: they
 * are meant for the next hop only, and each side of the gateway is a connection of its own.
 * Used both ways. The gateway's own headers are set apart from these, so naming one of them
 * in `Connection` removes nothing.
 */
export function withoutHopByHop(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const listed = headers.connection;
  if (typeof listed === 'string') for (const name of listed.split(',')) delete headers[name.trim().toLowerCase()];
  for (const name of Object.keys(headers)) if (HOP_BY_HOP.has(name)) delete headers[name];
  return headers;
}
