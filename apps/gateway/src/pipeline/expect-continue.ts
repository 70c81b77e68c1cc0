import type { Server } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Node answers `Expect: 100-continue` with `100 Continue` before any route runs, inviting the
 * body of a request nobody authenticated. With this listener it hands such a request over as
 * any other, and `inviteBody` sends the 100 once the request is let through (RFC 9110 §10.1.1
 * lets a server answer with a final status instead, which is what a refused request gets).
 */
export function holdBackContinue(server: Server): void {
  server.on('checkContinue', (request, response) => server.emit('request', request, response));
}

/** Called when a request is let through, before its body is read. */
export function inviteBody(request: FastifyRequest, reply: FastifyReply): void {
  if (request.headers.expect?.toLowerCase() === '100-continue') reply.raw.writeContinue();
}
