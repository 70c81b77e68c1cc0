import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorBody } from '../responses/error-body.js';
import { requestIdFrom } from '../responses/request-id.js';
import { sendJson } from './send-json.js';

/**
 * Node accepts any transfer codings before a final `chunked` (`gzip, chunked`), and undoes only
 * the chunking: the gateway would forward the still-compressed bytes as the content itself,
 * with a Content-Length and without the coding, so the upstream would read another body than the
 * client sent. RFC 9112 §6.1 has a server answer a coding it does not understand with 501. Runs
 * before authentication, like the other checks of how a request is framed, and closes the
 * connection, since its body is not read.
 */
export function refuseUnknownTransferCodings(request: FastifyRequest, reply: FastifyReply, done: () => void): void {
  const codings = request.headers['transfer-encoding'];
  const unknown = codings?.split(',').map((coding) => coding.trim().toLowerCase()).find((coding) => coding !== 'chunked');
  if (unknown === undefined) return done();
  const details = `Transfer-Encoding ${unknown} is not supported: send the body chunked or with a Content-Length`;
  void sendJson(reply.headers({ 'x-request-id': requestIdFrom(request.headers['x-request-id']), connection: 'close' }), 501, errorBody(501, details));
}
