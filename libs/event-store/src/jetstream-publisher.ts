import { headers, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { OutboxPublisher } from './outbox-relay.js';
import type { StoredEvent } from './events.js';

/** Header carrying the event's global position, so a restarted relay can see how far the stream got. */
export const POSITION_HEADER = 'Keyplane-Position';

export interface JetStreamPublisherOptions {
  nc: NatsConnection;
  stream: string;
  subjectOf: (event: StoredEvent) => string;
  /** The message body; by default the event's data. */
  bodyOf?: (event: StoredEvent) => unknown;
}

/** Publishes stored events to a JetStream stream with Nats-Msg-Id = event id. */
export function jetStreamPublisher({ nc, stream, subjectOf, bodyOf = (event) => event.data }: JetStreamPublisherOptions): OutboxPublisher {
  const js = jetstream(nc);
  const encoder = new TextEncoder();
  return {
    async publish(event) {
      const h = headers();
      h.set(POSITION_HEADER, String(event.globalPosition));
      await js.publish(subjectOf(event), encoder.encode(JSON.stringify(bodyOf(event))), { msgID: event.eventId, headers: h, expect: { streamName: stream } });
    },
    async lastPublishedPosition() {
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info(stream);
      if (info.state.messages === 0) return 0;
      const last = await jsm.streams.getMessage(stream, { seq: info.state.last_seq });
      return Number(last?.header.get(POSITION_HEADER) ?? 0);
    },
  };
}
