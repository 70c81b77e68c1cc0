import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { errorBody } from '../responses/error-body.js';
import { answerInTurn } from './answer-in-turn.js';
import { endWithAnswer } from './end-with-answer.js';
import { rawJsonAnswer } from './raw-json-answer.js';

/**
 * Requests Node rejects before any route runs (headers over its 16 KiB limit, a malformed
 * request line, headers or a body that did not arrive in time) still get a JSON error body,
 * not an empty or HTML page.
 * Replaces Fastify's handler, whose body has `message` where DESIGN §6 has `details`. Node
 * answered at once, even with earlier pipelined requests still owed their answers (read by the
 * client as the first one's); the answer now waits its turn (`answerInTurn`).
 */
export function answerClientErrorsWithJson(server: Server, counted: (status: number) => void): void {
  server.removeAllListeners('clientError');
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const [status, details] = describe(error.code);
    answerInTurn(socket, () => {
      endWithAnswer(socket, rawJsonAnswer(status, errorBody(status, details)));
      counted(status);
    });
  });
}

function describe(code: string | undefined): [number, string] {
  if (code === 'HPE_HEADER_OVERFLOW') return [431, 'Request headers are too large'];
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT' || code === 'HPE_HEADER_TIMEOUT') return [408, 'Request timed out'];
  return [400, 'Malformed HTTP request'];
}
