import type { Server } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorBody } from '../responses/error-body.js';
import { requestIdFrom } from '../responses/request-id.js';
import { sendJson } from './send-json.js';

const NO_HOST = errorBody(400, 'An HTTP/1.1 request must have a Host header');

/**
 * RFC 9112 §3.2: an HTTP/1.1 request without `Host` is a 400. Node sends that 400 itself, with
 * an empty body and no content type; with its check off, `refuseMissingHost` sends it instead.
 */
export function leaveHostCheckToGateway(server: Server): void {
  (server as Server & { requireHostHeader: boolean }).requireHostHeader = false;
}

/** A hook that runs first on every request, before authentication, as Node's check did. */
export function refuseMissingHost(request: FastifyRequest, reply: FastifyReply, done: () => void): void {
  const { raw, headers } = request;
  if (headers.host !== undefined || raw.httpVersionMajor !== 1 || raw.httpVersionMinor !== 1) return done();
  void sendJson(reply.headers({ 'x-request-id': requestIdFrom(headers['x-request-id']), connection: 'close' }), 400, NO_HOST);
}
