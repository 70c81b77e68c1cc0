import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { UNAUTHORIZED_HEADERS } from '../authentication/verdict.js';
import type { ManagementApi } from '../management/management-api.js';
import { errorBody } from '../responses/error-body.js';
import { NDJSON, ndjsonChunks } from '../responses/ndjson.js';
import type { RouteMatcher } from '../routes/route-matcher.js';
import { sendJson } from './send-json.js';

export interface DispatchDeps {
  matcher: RouteMatcher;
  management: ManagementApi;
  proxy: (request: FastifyRequest, reply: FastifyReply) => FastifyReply;
}

/**
 * Runs after `authorize` let the request through: the upstream, a management handler, or,
 * for a path outside the route table, 404 (405 with `Allow` when the path is routed for
 * other methods), answered only after authentication so the table is not probed for free.
 */
export function dispatch({ matcher, management, proxy }: DispatchDeps) {
  return async function dispatchRequest(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const gateway = request.gateway!;
    const { match, path } = gateway;
    if (!match) {
      const allowed = matcher.allowedMethods(path);
      if (allowed.length > 0) {
        return sendJson(reply.header('allow', allowed.join(', ')), 405, errorBody(405, `${request.method} is not allowed on ${path}`));
      }
      return sendJson(reply, 404, errorBody(404, `No route for ${request.method} ${path}`));
    }
    if (match.route.target === 'upstream') return proxy(request, reply);

    const body = jsonBody(request.body);
    if (body === NOT_UTF8) return sendJson(reply, 400, errorBody(400, 'Request body is not valid UTF-8'));
    if (body === INVALID) return sendJson(reply, 400, errorBody(400, 'Request body is not valid JSON'));
    const { keyId, accountId, environment, permissions } = gateway.key!;
    const answer = await management.handle(match.route.target, {
      actor: { keyId, accountId, environment, permissions },
      recheck: { keyHash: gateway.keyHash!, permission: match.route.permission },
      requestId: gateway.requestId,
      params: match.params,
      query: request.query,
      body,
      accept: request.headers.accept,
    });
    // Account data, and at create and rotate a secret shown once: no cache on the way may keep a copy.
    reply.header('cache-control', 'no-store');
    // Keys judges the calling key as it stores it, which auth's view may trail by a moment: a key
    // revoked or expired meanwhile is its 401, which DESIGN §6 gives the header of every 401.
    if (answer.status === 401) reply.headers(UNAUTHORIZED_HEADERS);
    // A stream that breaks after its status was sent can only end short: Fastify destroys the response.
    if ('ndjson' in answer) return reply.code(200).header('content-type', NDJSON).send(Readable.from(ndjsonChunks(answer.ndjson)));
    return sendJson(reply, answer.status, JSON.stringify(answer.body));
  };
}

const INVALID = Symbol('invalid JSON');
const NOT_UTF8 = Symbol('not UTF-8');

// JSON is UTF-8 (RFC 8259 §8.1); a lenient decode would store U+FFFD in place of the bytes sent.
const UTF8 = new TextDecoder('utf-8', { fatal: true });

function jsonBody(raw: unknown): unknown {
  if (!Buffer.isBuffer(raw) || raw.length === 0) return undefined;
  let text: string;
  try {
    text = UTF8.decode(raw);
  } catch {
    return NOT_UTF8;
  }
  try {
    return JSON.parse(text);
  } catch {
    return INVALID;
  }
}
