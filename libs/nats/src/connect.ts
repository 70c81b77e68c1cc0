import { connect, type NatsConnection } from '@nats-io/transport-node';

export interface NatsConnectOptions {
  url: string;
  name: string;
}

/** A connection that keeps reconnecting forever: a service outlives NATS restarts. */
export function connectNats({ url, name }: NatsConnectOptions): Promise<NatsConnection> {
  return connect({ servers: url, name, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
}
