import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorBody } from '../responses/error-body.js';
import { requestIdFrom } from '../responses/request-id.js';
import { sendJson } from './send-json.js';

/**
 * The first character, in a request target, that the upstream's URL parser would not pass on as
 * written: `?` starts the query; `#` a fragment, dropped; `\` becomes `/` (and then dot segments
 * resolve); `"`, `<`, `>`, `` ` ``, `{`, `}` are percent-encoded. None may appear raw in a
 * request target (RFC 9112 §3.2, RFC 3986 §3.3). Node's parser already refuses spaces, controls
 * and non-ASCII bytes, and dot segments never match a route (see `RouteMatcher`), so the path the
 * upstream receives is always the path that was matched and authorized.
 */
const REWRITTEN = /[?#\\"<>`{}]/;

/** What is wrong with the request target, or null when it is forwarded exactly as written. */
export function requestTargetProblem(url: string): string | null {
  const found = REWRITTEN.exec(url);
  if (found === null) return null;
  // The query is forwarded as written, so only a fragment there changes what the upstream reads.
  const char = found[0] === '?' ? (url.includes('#', found.index) ? '#' : null) : found[0];
  if (char === null) return null;
  const encoded = `%${char.charCodeAt(0).toString(16).toUpperCase()}`;
  return `The request target must not contain a raw ${char} (percent-encode it as ${encoded})`;
}

/**
 * Runs first on every request, before authentication: such a target is refused with 400 rather
 * than matched to one route and forwarded as another (`POST /v1/flows/#/execute` would be
 * authorized for execute and reach the upstream as `POST /v1/flows/`).
 */
export function refuseRewrittenTargets(request: FastifyRequest, reply: FastifyReply, done: () => void): void {
  const problem = requestTargetProblem(request.url);
  if (problem === null) return done();
  void sendJson(reply.header('x-request-id', requestIdFrom(request.headers['x-request-id'])), 400, errorBody(400, problem));
}
