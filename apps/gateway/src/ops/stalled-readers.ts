import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { answerOn } from '../pipeline/http-socket.js';

export interface StalledReaderOptions {
  /** How long a client may take no byte of its answer while the gateway has some waiting for it. */
  timeoutMs: number;
  /** Called for each connection closed, after it is, with the answer it was sending if any. */
  onClosed: (answer: ServerResponse | null) => void;
}

export interface StalledReaderCheck {
  stop(): void;
}

/** Where a stalled answer stood when it was first seen: bytes the client had taken, and when. */
interface Stall {
  taken: number;
  since: number;
}

/**
 * Closes the connection of a client that takes no byte of its answer for `timeoutMs` while the
 * gateway has bytes waiting to send it (nginx's `send_timeout`). Without it a client that stops
 * reading a proxied answer too large for the socket buffers holds its socket and, through the
 * answer's back-pressure, a connection to the upstream for ever: enough of them (one key, a few
 * hundred sockets) left every other client's proxied request queued behind them.
 *
 * Checked every quarter of the timeout (at most every second) over the open connections, so a
 * stall is cut between `timeoutMs` and `timeoutMs` plus two checks after it began. A client still
 * reading, however slowly, completes a write now and then and is left alone; so is an answer
 * still waiting for the upstream, which has nothing to send (`UPSTREAM_TIMEOUT_MS` bounds that),
 * and an idle kept-alive connection.
 */
export function closeStalledReaders(connections: Iterable<Socket>, { timeoutMs, onClosed }: StalledReaderOptions): StalledReaderCheck {
  const stalls = new WeakMap<Socket, Stall>();
  const check = () => {
    const now = Date.now();
    for (const socket of connections) {
      // Bytes written to the socket and not yet taken by the kernel: what the client has not read.
      if (socket.destroyed || socket.writableLength === 0) {
        stalls.delete(socket);
        continue;
      }
      const taken = socket.bytesWritten - socket.writableLength;
      const stall = stalls.get(socket);
      if (stall === undefined || stall.taken !== taken) {
        stalls.set(socket, { taken, since: now });
      } else if (now - stall.since >= timeoutMs) {
        const answer = answerOn(socket);
        socket.destroy();
        onClosed(answer);
      }
    }
  };
  const timer = setInterval(check, Math.max(1, Math.min(1000, Math.floor(timeoutMs / 4))));
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
