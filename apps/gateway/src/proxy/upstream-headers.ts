import type { IncomingHttpHeaders } from 'node:http';
import type { DecidedKey } from '@keyplane/contracts';

/**
 * The request headers the upstream sees: never the credential, never a client's claim to be
 * some key or account (any `X-Keyplane-*` it sent), only what auth's decision established.
 */
export function upstreamHeaders(headers: IncomingHttpHeaders, key: DecidedKey, requestId: string): IncomingHttpHeaders {
  for (const name of Object.keys(headers)) {
    if (name === 'authorization' || name === 'proxy-authorization' || name.startsWith('x-keyplane-')) delete headers[name];
  }
  headers['x-keyplane-key-id'] = key.keyId;
  headers['x-keyplane-account-id'] = key.accountId;
  headers['x-keyplane-environment'] = key.environment;
  headers['x-request-id'] = requestId;
  return headers;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

/** The upstream's response headers minus its connection-level ones: the client's connection is the gateway's own. */
export function clientHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  for (const name of Object.keys(headers)) if (HOP_BY_HOP.has(name)) delete headers[name];
  return headers;
}
