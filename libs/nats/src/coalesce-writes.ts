import type { NatsConnection } from '@nats-io/transport-node';

/** The parts of nats.js's ProtocolHandler (3.4) that decide when buffered commands are written. */
interface OutboundProtocol {
  outbound: { length(): number; size(): number; fill(buf: Uint8Array, ...payloads: Uint8Array[]): void };
  pendingLimit: number;
  flushPending(): void;
  sendCommand(cmd: string | Uint8Array, ...payloads: Uint8Array[]): void;
  close(err?: Error): Promise<void>;
}

const encoder = new TextEncoder();

/**
 * Lets everything a connection sends in one turn of the event loop leave in one socket write.
 *
 * nats.js writes its buffer on the next microtask, so each request that arrived in an I/O
 * callback of its own (every HTTP request at the gateway, every decision at auth) pays a
 * write, and nats-server a read. Writing on `setImmediate` instead waits for the end of the
 * event loop's poll phase, which adds no more than one turn of latency. Measured side by side
 * in the benchmark: nats-server's CPU per request halved, auth's fell by a third.
 *
 * Only the scheduling is replaced: a full buffer is still written at once, flush and drain
 * still write what is pending before they go on, and so does close.
 */
export function coalesceWrites(nc: NatsConnection): NatsConnection {
  const protocol = (nc as unknown as { protocol?: OutboundProtocol }).protocol;
  if (!protocol?.outbound || typeof protocol.sendCommand !== 'function' || typeof protocol.flushPending !== 'function' || typeof protocol.close !== 'function') {
    throw new Error('coalesceWrites: this nats.js has no ProtocolHandler.sendCommand to reschedule');
  }
  protocol.sendCommand = (cmd, ...payloads) => {
    const wasEmpty = protocol.outbound.length() === 0;
    protocol.outbound.fill(typeof cmd === 'string' ? encoder.encode(cmd) : cmd, ...payloads);
    if (wasEmpty) setImmediate(() => protocol.flushPending());
    else if (protocol.outbound.size() >= protocol.pendingLimit) protocol.flushPending();
  };
  // A reply published just before close() must not wait for a turn that comes after it.
  const close = protocol.close.bind(protocol);
  protocol.close = (err) => {
    protocol.flushPending();
    return close(err);
  };
  return nc;
}
