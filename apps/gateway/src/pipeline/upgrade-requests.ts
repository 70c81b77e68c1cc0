import type { IncomingHttpHeaders, Server } from 'node:http';

/**
 * A request asking to switch protocols (`Connection: upgrade` with `Upgrade`, RFC 9110 §7.8) is
 * served as a plain request: the gateway proxies no WebSocket or h2c, and drops both headers as
 * hop-by-hop. But Node's parser takes the bytes after such a request for the new protocol's and,
 * as no 'upgrade' listener claims them, discards them: a request pipelined behind it would never
 * be answered, on a connection left open, and a client pipelining one more would read that
 * one's answer as the lost one's. So the answer closes the connection, which tells the client
 * that what it sent after the request was not read. Prepended, so the header is set before any
 * route can answer.
 */
export function closeAfterUpgradeRequests(server: Server): void {
  server.prependListener('request', (request, response) => {
    if (asksToUpgrade(request.headers)) response.setHeader('connection', 'close');
  });
}

/** llhttp's own test: an `Upgrade` header, and `upgrade` among the `Connection` tokens. */
function asksToUpgrade(headers: IncomingHttpHeaders): boolean {
  if (headers.upgrade === undefined || headers.connection === undefined) return false;
  return headers.connection.split(',').some((token) => token.trim().toLowerCase() === 'upgrade');
}
