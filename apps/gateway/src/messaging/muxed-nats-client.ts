import type { MsgHdrs, NatsConnection } from '@nats-io/transport-node';
import { ClientNats, type NatsOptions, type ReadPacket, type WritePacket } from '@nestjs/microservices';
import { coalesceWrites, RequestMux, type MuxRequest } from '@keyplane/nats';

/**
 * Nest's NATS client, sending requests through one shared reply subscription (a
 * `RequestMux`) instead of subscribing and unsubscribing an inbox per request: a third of
 * the protocol traffic on the gateway's hottest path. It also learns at once, from NATS's
 * no-responders status, that no auth replica is listening.
 */
export class MuxedNatsClient extends ClientNats {
  private mux: { nc: NatsConnection; requests: RequestMux } | undefined;

  constructor(
    options: Required<NatsOptions>['options'],
    /** Upper bound for any request; callers still apply their own, shorter timeout. */
    private readonly maxRequestMs: number,
  ) {
    super(options);
  }

  /** Requests of one turn of the event loop leave in one socket write (see coalesceWrites). */
  override async createClient() {
    return coalesceWrites((await super.createClient()) as unknown as NatsConnection) as unknown as Awaited<ReturnType<ClientNats['createClient']>>;
  }

  /** Fails at once every request still waiting for a reply, then closes the connection. */
  override async close(): Promise<void> {
    this.mux?.requests.close();
    this.mux = undefined;
    await super.close();
  }

  /** Requests sent and awaiting their reply. */
  get waitingForReplies(): number {
    return this.mux?.requests.waiting ?? 0;
  }

  protected override publish(partialPacket: ReadPacket, callback: (packet: WritePacket) => unknown): () => void {
    let cancelled = false;
    let request: MuxRequest | undefined;
    try {
      const packet = this.assignPacketId(partialPacket);
      const serialized = this.serializer.serialize(packet) as { data: Uint8Array; headers?: unknown };
      request = this.requests().send(this.normalizePattern(partialPacket.pattern), serialized.data, {
        timeoutMs: this.maxRequestMs,
        headers: this.mergeHeaders(serialized.headers) as MsgHdrs | undefined,
      });
      request.reply.then(
        async (msg) => {
          if (cancelled) return;
          // A reply that is not JSON makes the deserializer throw: uncaught here, that rejection
          // would end the process, so one bad reply on the inbox would take the gateway down.
          let packet: WritePacket;
          try {
            const { err, response } = await this.deserializer.deserialize(msg);
            packet = { err, response, isDisposed: true };
          } catch (err) {
            packet = { err, isDisposed: true };
          }
          callback(packet);
        },
        (err: unknown) => {
          if (!cancelled) callback({ err, isDisposed: true });
        },
      );
    } catch (err) {
      callback({ err, isDisposed: true });
    }
    // Runs when the caller unsubscribes: after the reply, or when its own, shorter timeout gave up.
    return () => {
      cancelled = true;
      request?.cancel();
    };
  }

  /** One mux per connection: Nest makes a new connection after close(). */
  private requests(): RequestMux {
    const nc = this.natsClient as unknown as NatsConnection;
    if (this.mux?.nc !== nc) this.mux = { nc, requests: new RequestMux(nc) };
    return this.mux.requests;
  }
}
