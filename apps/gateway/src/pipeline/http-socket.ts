import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

/** What Node's HTTP server keeps on each connection's socket, undocumented but read by the gateway here alone. */
type HttpSocket = Duplex & {
  _httpMessage?: ServerResponse | null;
  /** Its `incoming` is the last request whose headers were read, kept after its body. */
  parser?: { incoming?: IncomingMessage | null } | null;
};

/** The answer Node is writing on a connection now; those owed to later pipelined requests wait behind it. */
export function answerOn(socket: Duplex): ServerResponse | null {
  return (socket as HttpSocket)._httpMessage ?? null;
}

/** The last request whose headers Node read on a connection, kept after its body. */
export function lastRequestOn(socket: Duplex): IncomingMessage | null {
  return (socket as HttpSocket).parser?.incoming ?? null;
}
