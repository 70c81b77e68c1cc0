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
}

declare module 'fastify' {
  interface FastifyRequest {
    gateway: GatewayRequest | null;
  }
}
