import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { errorBody } from '../responses/error-body.js';
import { requestIdFrom } from '../responses/request-id.js';
import { endWithAnswer } from './end-with-answer.js';
import { rawJsonAnswer } from './raw-json-answer.js';

const NOT_A_PROXY = errorBody(400, 'CONNECT is not supported: the gateway is not a forward proxy');

/**
 * Node hands a CONNECT to the server's 'connect' event, never to Fastify, and drops the
 * connection when nobody listens. It asks for a tunnel to an authority, not for a resource
 * of this API, so there is no route to authenticate it for and no `Allow` to list (a 405
 * must carry one): it is a 400, in the JSON shape of every other error.
 */
export function answerConnectWithJson(server: Server, counted: (status: number) => void): void {
  server.on('connect', (request: IncomingMessage, socket: Duplex) => {
    endWithAnswer(socket, rawJsonAnswer(400, NOT_A_PROXY, { 'X-Request-Id': requestIdFrom(request.headers['x-request-id']) }));
    counted(400);
  });
}
