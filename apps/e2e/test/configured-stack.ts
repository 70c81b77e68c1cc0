import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats } from '@keyplane/nats';
import { startConfiguredNats, type ConfiguredNats, type NatsUser } from './configured-nats.js';
import { startStack, type Stack } from './stack.js';

/** The whole product on a nats-server run with `infra/nats/nats.conf` as shipped, each service under its own user. */
export interface ConfiguredStack {
  server: ConfiguredNats;
  stack: Stack;
  /** A connection of the test's own as one service's user, closed with the stack. */
  connectAs(user: NatsUser): Promise<NatsConnection>;
  /** Closes `nc` with the stack. */
  closeLater(nc: NatsConnection): void;
  close(): Promise<void>;
}

export async function startConfiguredStack(label: string): Promise<ConfiguredStack> {
  const server = await startConfiguredNats();
  let stack: Stack;
  try {
    stack = await startStack(label, { nats: { urlFor: (user) => server.urlFor(user), ownServer: true }, metering: { INGEST_LINGER_MS: '0' } });
  } catch (error) {
    await server.stop();
    throw error;
  }
  const connections: NatsConnection[] = [];
  const closeLater = (nc: NatsConnection) => void connections.push(nc);
  return {
    server,
    stack,
    closeLater,
    connectAs: async (user) => {
      const nc = await connectNats({ url: server.urlFor(user), name: `${label}-${user}` });
      closeLater(nc);
      return nc;
    },
    close: async () => {
      await Promise.all(connections.map((nc) => nc.close()));
      await stack.close();
      await server.stop();
    },
  };
}
