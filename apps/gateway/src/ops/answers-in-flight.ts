import type { Server, ServerResponse } from 'node:http';

/**
 * The answers the public listener is sending, each from its request until its connection is
 * done with it: what a shutdown marks as its connection's last, and what the stalled-reader
 * check walks. One listener and one set for both, so a request pays for the tracking once.
 */
export function trackAnswers(server: Server): ReadonlySet<ServerResponse> {
  const answers = new Set<ServerResponse>();
  // Prepended so an answer is tracked before any other listener can send it.
  server.prependListener('request', (_request, response: ServerResponse) => {
    answers.add(response);
    response.once('close', () => answers.delete(response));
  });
  return answers;
}
