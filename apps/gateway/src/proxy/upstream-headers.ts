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

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

/** The upstream's response headers minus its connection-level ones: the client's connection is the gateway's own. */
export function clientHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  for (const name of Object.keys(headers)) if (HOP_BY_HOP.has(name)) delete headers[name];
  return headers;
}
