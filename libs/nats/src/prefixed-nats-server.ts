import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { ServerNats, type NatsOptions } from '@nestjs/microservices';
import { coalesceWrites } from './coalesce-writes.js';
import { RequestFrameDeserializer } from './request-frame.js';

type ServerNatsOptions = NonNullable<NatsOptions['options']>;

const DEFAULT_GRACE_PERIOD_MS = 10_000;

/**
 * Nest's NATS server with every handler pattern moved under a namespace prefix.
 * Handlers keep the unprefixed pattern in `@MessagePattern`; the prefix comes from
 * configuration, so the same build serves production (no prefix) and isolated tests.
 */
export class PrefixedNatsServer extends ServerNats {
  private connection: NatsConnection | undefined;

  /**
   * With `shared`, handlers listen on the service's own connection instead of one of their
   * own, so replies and whatever else the service sends in a turn of the event loop leave in
   * one socket write; closing the server then leaves the connection to its owner.
   */
  constructor(
    private readonly prefix: string,
    private readonly serverOptions: ServerNatsOptions,
    private readonly shared?: NatsConnection,
  ) {
    super(serverOptions);
    this.deserializer = new RequestFrameDeserializer((subject, details) => this.logger.warn(`refused a message on ${subject}: ${details}`));
  }

  /**
   * Every handler of ours answers requests: a message that reaches here (no request id) was
   * answered and reported by the deserializer, and is never run as an event.
   */
  override async handleEvent(): Promise<void> {}

  /** Replies of one turn of the event loop leave in one socket write (see coalesceWrites). */
  override async createNatsClient() {
    this.connection = this.shared ?? coalesceWrites((await super.createNatsClient()) as NatsConnection);
    return this.connection as Awaited<ReturnType<ServerNats['createNatsClient']>>;
  }

  override async close(): Promise<void> {
    if (!this.shared) return super.close();
    // As Nest's graceful shutdown, without closing a connection that is not ours.
    for (const sub of (this as unknown as { subscriptions: Subscription[] }).subscriptions) sub.unsubscribe();
    const gracePeriod = this.serverOptions.gracefulShutdown ? (this.serverOptions.gracePeriod ?? DEFAULT_GRACE_PERIOD_MS) : 0;
    await new Promise((resolve) => setTimeout(resolve, gracePeriod));
  }

  override async listen(callback: (err?: unknown) => void): Promise<void> {
    if (this.prefix) {
      for (const [pattern, handler] of [...this.messageHandlers]) {
        this.messageHandlers.delete(pattern);
        this.messageHandlers.set(`${this.prefix}.${pattern}`, handler);
      }
    }
    // Listening means the server has our subscriptions: a request sent the moment start-up
    // returns must find a responder, whenever the SUBs are written.
    return super.listen((err) => {
      if (err) return callback(err);
      this.connection!.flush().then(() => callback(), callback);
    });
  }

  /**
   * Our patterns are plain subjects, so the handler is found by the subject itself. Nest would
   * first try `JSON.parse` on it (for object patterns), which throws, and builds an exception
   * with a stack trace, on every message: 5 % of auth's CPU in the benchmark's profile.
   */
  override getHandlerByPattern(pattern: string) {
    return this.messageHandlers.get(pattern) ?? super.getHandlerByPattern(pattern);
  }
}
