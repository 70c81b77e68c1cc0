import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { frameworkErrorDetails } from '@keyplane/runtime';

/**
 * An id may be as long as a path the gateway forwards, whose request line Node caps with the
 * headers at 16 KiB; Fastify's router would otherwise refuse an id over 100 characters with 414
 * rather than look it up (an unknown id is a 404 like any other).
 */
export const MAX_PARAM_LENGTH = 16 * 1024;

/**
 * Fastify's `frameworkErrors`: what its router refuses before Nest sees the request (a path whose
 * percent-encoding does not decode) leaves as `{"error", "details"}` too, not Fastify's own body,
 * which the errors filter never gets to shape. Sent as bytes: Fastify would append `; charset=utf-8`
 * to a string, and no `onSend` hook runs here to take it off (see `ExactJsonContentType`).
 */
export function answerRouterErrorsWithJson(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const status = error.statusCode ?? 500;
  const details = frameworkErrorDetails(error);
  void reply
    .code(status)
    .header('content-type', 'application/json')
    .send(Buffer.from(JSON.stringify({ error: STATUS_CODES[status] ?? 'Error', details })));
}
