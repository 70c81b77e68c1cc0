import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { errorBody } from '../responses/error-body.js';
import { requestIdFrom } from '../responses/request-id.js';
import { answerInTurn } from './answer-in-turn.js';
import { endWithAnswer } from './end-with-answer.js';
import { answerOn } from './http-socket.js';
import { rawJsonAnswer } from './raw-json-answer.js';

const NOT_A_PROXY = errorBody(400, 'CONNECT is not supported: the gateway is not a forward proxy');

/**
 * Node hands a CONNECT to the server's 'connect' event, never to Fastify, and drops the
 * connection when nobody listens. It asks for a tunnel to an authority, not for a resource
 * of this API, so there is no route to authenticate it for and no `Allow` to list (a 405
 * must carry one): it is a 400, in the JSON shape of every other error, sent after the answers
 * still owed to requests pipelined before it.
 */
export function answerConnectWithJson(server: Server, counted: (status: number) => void): void {
  server.on('connect', (request: IncomingMessage, socket: Duplex) => {
    keepOwedAnswersFlowing(socket);
    answerInTurn(socket, () => {
      endWithAnswer(socket, rawJsonAnswer(400, NOT_A_PROXY, { 'X-Request-Id': requestIdFrom(request.headers['x-request-id']) }));
      counted(400);
    });
  });
}

/**
 * Node detaches the socket from its HTTP machinery before 'connect', its 'drain' listener
 * included, which is what resumes an answer the socket could not take at once: an owed answer
 * longer than the socket buffer would stall half-sent. Passing 'drain' on keeps it flowing.
 */
function keepOwedAnswersFlowing(socket: Duplex): void {
  socket.on('drain', () => answerOn(socket)?.emit('drain'));
}
