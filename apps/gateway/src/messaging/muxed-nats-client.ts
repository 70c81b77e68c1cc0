import { ClientNats, type NatsOptions, type ReadPacket, type WritePacket } from '@nestjs/microservices';

type NatsRequester = {
  request(subject: string, data: Uint8Array, options: { timeout: number; headers?: unknown }): Promise<{ data: Uint8Array }>;
};

/**
 * Nest's NATS client, sending requests through the connection's one shared reply
 * subscription (`nc.request`) instead of subscribing and unsubscribing an inbox per request:
 * a third of the protocol traffic on the gateway's hottest path. It also learns at once,
 * from NATS's no-responders status, that no auth replica is listening.
 */
export class MuxedNatsClient extends ClientNats {
  constructor(
    options: Required<NatsOptions>['options'],
    /** Upper bound for any request; callers still apply their own, shorter timeout. */
    private readonly maxRequestMs: number,
  ) {
    super(options);
  }

  protected override publish(partialPacket: ReadPacket, callback: (packet: WritePacket) => unknown): () => void {
    let cancelled = false;
    try {
      const packet = this.assignPacketId(partialPacket);
      const serialized = this.serializer.serialize(packet) as { data: Uint8Array; headers?: unknown };
      const nc = this.natsClient as NatsRequester;
      nc.request(this.normalizePattern(partialPacket.pattern), serialized.data, {
        timeout: this.maxRequestMs,
        headers: this.mergeHeaders(serialized.headers),
      }).then(
        async (msg) => {
          if (cancelled) return;
          const { err, response } = await this.deserializer.deserialize(msg);
          callback({ err, response, isDisposed: true });
        },
        (err: unknown) => {
          if (!cancelled) callback({ err, isDisposed: true });
        },
      );
    } catch (err) {
      callback({ err, isDisposed: true });
    }
    return () => {
      cancelled = true;
    };
  }
}
