import { connect, type NatsConnection } from '@nats-io/transport-node';
import { coalesceWrites } from './coalesce-writes.js';
import { natsServerOptions } from './server-options.js';
import type { NatsTls } from './tls.js';

export interface NatsConnectOptions {
  url: string;
  name: string;
  /** The service's `NATS_TLS_*` settings; a `tls://` URL asks for TLS without them. */
  tls?: NatsTls;
}

/**
 * A connection that keeps reconnecting forever (a service outlives NATS restarts), without
 * async stack traces: nats.js would otherwise build an Error on every request and JetStream
 * publish just in case it fails, a tenth of auth's CPU per decision; and that writes what one
 * turn of the event loop sends in one go (see coalesceWrites).
 */
export async function connectNats({ url, name, tls }: NatsConnectOptions): Promise<NatsConnection> {
  return coalesceWrites(await connect({ ...natsServerOptions(url, tls), name, maxReconnectAttempts: -1, reconnectTimeWait: 250, noAsyncTraces: true }));
}
