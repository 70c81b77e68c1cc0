import type { Server } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorBody } from '../responses/error-body.js';
import { requestIdFrom } from '../responses/request-id.js';

const EXPECTATION_FAILED = errorBody(417, 'The only expectation supported is Expect: 100-continue');

/**
 * Node answers `Expect: 100-continue` with `100 Continue` before any route runs, inviting the
 * body of a request nobody authenticated. With this listener it hands such a request over as
 * any other, and `inviteBody` sends the 100 once the request is let through (RFC 9110 §10.1.1
 * lets a server answer with a final status instead, which is what a refused request gets).
 */
export function holdBackContinue(server: Server): void {
  server.on('checkContinue', (request, response) => server.emit('request', request, response));
}

/**
 * Node answers any other expectation (`Expect: foo`) with a bare 417: no body, no content type.
 * It is still refused before authentication (RFC 9110 §10.1.1: one the server cannot meet), in
 * the JSON shape of every other error, as the connection's last answer since a body may follow.
 */
export function refuseOtherExpectations(server: Server, counted: (status: number) => void): void {
  server.on('checkExpectation', (request, response) => {
    const headers = { 'content-type': 'application/json', 'x-request-id': requestIdFrom(request.headers['x-request-id']), connection: 'close' };
    response.writeHead(417, headers).end(EXPECTATION_FAILED);
    counted(417);
  });
}

/** Called when a request is let through, before its body is read. */
export function inviteBody(request: FastifyRequest, reply: FastifyReply): void {
  if (request.headers.expect?.toLowerCase() === '100-continue') reply.raw.writeContinue();
}
