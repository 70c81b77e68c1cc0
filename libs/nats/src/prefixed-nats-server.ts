import { ServerNats, type NatsOptions } from '@nestjs/microservices';

type ServerNatsOptions = NonNullable<NatsOptions['options']>;

/**
 * Nest's NATS server with every handler pattern moved under a namespace prefix.
 * Handlers keep the unprefixed pattern in `@MessagePattern`; the prefix comes from
 * configuration, so the same build serves production (no prefix) and isolated tests.
 */
export class PrefixedNatsServer extends ServerNats {
  constructor(
    private readonly prefix: string,
    options: ServerNatsOptions,
  ) {
    super(options);
  }

  override async listen(callback: (err?: unknown) => void): Promise<void> {
    if (this.prefix) {
      for (const [pattern, handler] of [...this.messageHandlers]) {
        this.messageHandlers.delete(pattern);
        this.messageHandlers.set(`${this.prefix}.${pattern}`, handler);
      }
    }
    return super.listen(callback);
  }
}
