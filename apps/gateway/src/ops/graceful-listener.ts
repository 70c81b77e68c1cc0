import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { answerOn } from '../pipeline/http-socket.js';

export interface GracefulListener {
  /** Resolves once every connection is closed. */
  close(): Promise<void>;
}

/**
 * Closes the public listener without cutting an answer short: no new connection is accepted,
 * idle keep-alive ones are closed, and each answer in flight is delivered whole, as its
 * connection's last. Node's `server.close()` alone closes only the connections idle at that
 * moment: one whose answer was in flight stayed kept alive, and the close waited for the client
 * to drop it (measured: as long as the client kept it, up to the 72 s keep-alive timeout, past
 * Kubernetes' grace period). Fastify's `close()` does no more (its `return503OnClosing` only
 * answers requests that arrive meanwhile, with a body not in the gateway's error shape), so
 * this runs before it and leaves it no connection to answer.
 */
export function gracefulListener(server: Server, connections: ReadonlySet<Socket>): GracefulListener {
  return {
    close() {
      // Prepended so the header is set before any other listener can answer.
      server.prependListener('request', (_request, response: ServerResponse) => lastOnItsConnection(response));
      for (const socket of connections) {
        const answer = answerOn(socket);
        if (answer) lastOnItsConnection(answer);
      }
      // The error (not running) means it is closed already.
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** `Connection: close` while the headers are not out; after that, the socket closed once the answer is. */
function lastOnItsConnection(response: ServerResponse): void {
  if (!response.headersSent) return void response.setHeader('connection', 'close');
  const socket = response.socket;
  if (response.writableFinished) return socket?.destroySoon();
  response.once('finish', () => socket?.destroySoon());
}
