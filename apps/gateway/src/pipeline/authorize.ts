import type { FastifyReply, FastifyRequest } from 'fastify';
import { hashKey, parseKey } from '@keyplane/key-format';
import { AuthDecider } from '../authentication/auth-decider.js';
import { bearerToken } from '../authentication/bearer.js';
import { hasKeyInPath } from '../authentication/path-credentials.js';
import { hasCredentialInQuery } from '../authentication/query-credentials.js';
import { INVALID_KEY_BODY, UNAUTHORIZED_HEADERS, verdictFor } from '../authentication/verdict.js';
import type { ArrivingRequest } from '../client-address/client-address.js';
import type { GatewayMetrics } from '../ops/gateway-metrics.js';
import { errorBody } from '../responses/error-body.js';
import { requestIdFrom } from '../responses/request-id.js';
import type { RouteMatcher } from '../routes/route-matcher.js';
import { inviteBody } from './expect-continue.js';
import { sendJson } from './send-json.js';

export interface AuthorizeDeps {
  matcher: RouteMatcher;
  decider: AuthDecider;
  metrics: GatewayMetrics;
  keyPrefix: string;
  /** Who the client is: the TCP peer, or what trusted proxies say (`clientAddressOf`). */
  clientAddress: (request: ArrivingRequest) => string;
}

/**
 * The `onRequest` hook of every `/v1` request: it runs before the body is read, so nothing
 * is parsed or buffered for a caller without a valid key.
 *
 * A missing, malformed or bad-checksum key is answered here without asking auth: the
 * checksum exists so garbage never costs a NATS round trip. Such requests therefore leave
 * no usage event; they are counted in `gateway_rejected_locally_total` instead.
 */
export function authorize({ matcher, decider, metrics, keyPrefix, clientAddress }: AuthorizeDeps) {
  const rejectLocally = (reply: FastifyReply, reason: string) => {
    metrics.rejectedLocally.inc({ reason });
    return sendJson(reply.headers(UNAUTHORIZED_HEADERS), 401, INVALID_KEY_BODY);
  };

  return async function authorizeRequest(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const { url, headers } = request;
    const requestId = requestIdFrom(headers['x-request-id']);
    reply.header('x-request-id', requestId);
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const match = matcher.match(request.method, path);
    request.gateway = { requestId, path, match, key: null, keyHash: null };

    if (q >= 0 && hasCredentialInQuery(url, keyPrefix)) return rejectLocally(reply, 'credential_in_query');
    if (hasKeyInPath(path, keyPrefix)) return rejectLocally(reply, 'credential_in_path');
    const token = bearerToken(headers.authorization);
    if (token === null) return rejectLocally(reply, 'no_bearer_token');
    const parsed = parseKey(token, { prefix: keyPrefix });
    if (!parsed.ok) return rejectLocally(reply, parsed.error.code);

    const permission = match ? match.route.permission : null;
    const userAgent = headers['user-agent'];
    const keyHash = hashKey(token);
    const decided = await decider.decide({
      keyHash,
      permission,
      method: request.method,
      path: path.length > 8192 ? path.slice(0, 8192) : path,
      clientIp: clientAddress(request.raw).slice(0, 64),
      userAgent: userAgent === undefined ? null : userAgent.slice(0, 1024),
      requestId,
    });
    if (!decided.ok) {
      const { status, error, details } = decided.error;
      return sendJson(reply, status, errorBody(status, details, error));
    }

    const verdict = verdictFor(decided.value, permission, Math.floor(Date.now() / 1000));
    reply.headers(verdict.headers);
    if (!verdict.allowed) return sendJson(reply, verdict.status, verdict.body);
    request.gateway.key = verdict.key;
    request.gateway.keyHash = keyHash;
    inviteBody(request, reply);
    return undefined;
  };
}
