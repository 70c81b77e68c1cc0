import type { Duplex } from 'node:stream';

/** Long enough for a client to read its last answer; short enough that it cannot hold the socket. */
const LINGER_MS = 1000;

/**
 * Sends a connection's last answer and closes it. Only our half is closed at first: closing the
 * whole socket while the client still sends would reset it, and a reset can discard the answer
 * unread. A client that keeps its own half open (sending a body, or nothing) is cut off after
 * LINGER_MS; the server allows half-open sockets, so without that it could hold this one forever.
 */
export function endWithAnswer(socket: Duplex, answer: string): void {
  socket.end(answer);
  const linger = setTimeout(() => socket.destroy(), LINGER_MS).unref();
  socket.once('close', () => clearTimeout(linger));
}
