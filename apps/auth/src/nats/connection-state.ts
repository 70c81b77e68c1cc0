import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '@keyplane/observability';

/** Whether the connection is up right now; it reconnects forever, and readiness follows it. */
export class ConnectionState {
  private up = true;

  constructor(
    private readonly nc: NatsConnection,
    private readonly logger: Logger,
  ) {
    void this.watch();
  }

  get connected(): boolean {
    return this.up && !this.nc.isClosed();
  }

  private async watch(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type === 'disconnect') {
        this.up = false;
        this.logger.warn({ server: status.server }, 'NATS disconnected; reconnecting');
      } else if (status.type === 'reconnect') {
        this.up = true;
        this.logger.info({ server: status.server }, 'NATS reconnected');
      }
    }
  }
}
