import type { DecidedKey } from '@keyplane/contracts';
import type { RouteMatch } from '../routes/route-matcher.js';

/** What the gateway learned about a `/v1` request before its handler runs. */
export interface GatewayRequest {
  requestId: string;
  /** The raw path, without the query string. */
  path: string;
  match: RouteMatch | null;
  /** Set once auth allowed the request. */
  key: DecidedKey | null;
  /** The presented key's SHA-256 hash, set with `key`: keys checks a management call's caller by it again. */
  keyHash: string | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    gateway: GatewayRequest | null;
  }
}
