import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * The public listener's open connections: what a shutdown marks as ending after their answer in
 * flight, and what the stalled-reader check walks. Tracked per connection, not per answer: a
 * kept-alive connection carries many requests, and a 'request' listener adding each answer to a
 * set until its 'close' cost the gateway a tenth of its CPU per request (bench/gateway-builds.ts,
 * docs/benchmarks.md).
 */
export function trackConnections(server: Server): ReadonlySet<Socket> {
  const connections = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
  });
  return connections;
}
