import type { FastifyReplyFromHooks } from '@fastify/reply-from';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '@keyplane/observability';
import { MALFORMED_PERCENT_ENCODING } from '@keyplane/runtime';
import type { GatewayMetrics } from '../ops/gateway-metrics.js';
import { sendJson } from '../pipeline/send-json.js';
import { errorBody, UPSTREAM_UNAVAILABLE } from '../responses/error-body.js';
import { upstreamAnswerHeaders, upstreamHeaders } from './upstream-headers.js';

export interface ProxyDeps {
  upstreamUrl: string;
  metrics: GatewayMetrics;
  logger: Logger;
  timeoutMs: number;
}

/**
 * How `@fastify/reply-from` connects to the upstream:
 * - no cap on connections (its default is 128): slow readers' answers held every connection of
 *   a capped pool while other clients' requests queued behind them; the upstream now sees the
 *   clients' own concurrency, which `CLIENT_MAX_CONNECTIONS` caps;
 * - certificates checked: reply-from turns the check off (its `tls` option) unless told otherwise, and a forged
 *   upstream would receive every request with its `X-Keyplane-*` identity headers. A private
 *   CA is trusted through Node's `NODE_EXTRA_CA_CERTS`.
 */
export const UPSTREAM_CONNECTIONS = { connections: null, connect: { rejectUnauthorized: true } };

const BAD_GATEWAY = errorBody(502, UPSTREAM_UNAVAILABLE);
const GATEWAY_TIMEOUT = errorBody(504, 'Upstream did not answer in time');

/**
 * Forwards an allowed request to the upstream with `@fastify/reply-from`. The options are
 * built once: per-request data is read from `request.gateway`, so the hot path allocates
 * nothing but the body options of requests that carry a body.
 */
export function proxyToUpstream({ upstreamUrl, metrics, logger, timeoutMs }: ProxyDeps) {
  // reply-from refuses a path outside its base's, so a base path is put before each request's.
  // The query stays out of it: reply-from decodes what it is given, and appends the query as sent.
  const pathPrefix = new URL(upstreamUrl).pathname.replace(/\/+$/, '');
  const source = (request: FastifyRequest) => (pathPrefix === '' ? undefined : pathPrefix + request.gateway!.path);
  const options: FastifyReplyFromHooks = {
    timeout: timeoutMs,
    // Never replay a request on the client's behalf: the upstream may have acted on it.
    retryDelay: () => null,
    rewriteRequestHeaders(request, headers) {
      const { key, requestId } = request.gateway!;
      return upstreamHeaders(headers, key!, requestId, request.raw.socket.remoteAddress);
    },
    rewriteHeaders: upstreamAnswerHeaders,
    onError(reply, { error }) {
      const timedOut = (error as Error & { statusCode?: number }).statusCode === 504;
      const kind = timedOut ? 'timeout' : 'unavailable';
      metrics.upstreamErrors.inc({ kind });
      // warn, not debug: the 502/504 a client reports by its X-Request-Id must be findable at the default level.
      logger.warn({ err: error, requestId: reply.request.gateway?.requestId, method: reply.request.method, kind }, 'upstream request failed');
      sendJson(reply as FastifyReply, timedOut ? 504 : 502, timedOut ? GATEWAY_TIMEOUT : BAD_GATEWAY);
    },
  };

  return function proxy(request: FastifyRequest, reply: FastifyReply): FastifyReply {
    const problem = pathProblem(request.gateway!.path);
    if (problem !== null) return sendJson(reply, 400, errorBody(400, problem));
    const body = request.body;
    // The body was buffered as-is; hand it over as bytes so reply-from does not re-encode it.
    if (Buffer.isBuffer(body) && request.method !== 'GET' && request.method !== 'HEAD') {
      return reply.from(source(request), { ...options, body, contentType: request.headers['content-type'] ?? 'application/octet-stream' });
    }
    return reply.from(source(request), options);
  };
}

/**
 * reply-from refuses, as "source/request contain invalid characters", a path that once decoded
 * holds `..` beside a `/` (a dot segment, which matches no route, or an id such as `..x`), and
 * fails on one that does not decode. Checked first, so the client is told what is wrong.
 */
function pathProblem(path: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return MALFORMED_PERCENT_ENCODING;
  }
  return decoded.includes('/..') || decoded.includes('../') ? 'The request path must not hold ".." beside a "/": it could be read as a parent directory' : null;
}
