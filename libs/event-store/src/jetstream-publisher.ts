import { headers, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { OutboxPublisher } from './outbox-relay.js';
import type { StoredEvent } from './events.js';
import { POSITION_HEADER, publishedAt, STORED_THROUGH_HEADER, streamInfoOrNull } from './stream-end.js';

export { POSITION_HEADER, STORED_THROUGH_HEADER } from './stream-end.js';

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
    async publish(event, remade) {
      const h = headers();
      h.set(POSITION_HEADER, String(event.globalPosition));
      if (remade) h.set(STORED_THROUGH_HEADER, String(remade.storedThrough));
      await js.publish(subjectOf(event), encoder.encode(JSON.stringify(bodyOf(event))), { msgID: event.eventId, headers: h, expect: { streamName: stream } });
    },
    async lastPublished() {
      const jsm = await jetstreamManager(nc);
      const info = await streamInfoOrNull(jsm, stream);
      // No stream holds nothing: the relay starts from its checkpoint and, given the stream, makes it.
      if (!info || info.state.messages === 0) return null;
      const last = await publishedAt(jsm, stream, info.state.last_seq);
      return last.position > 0 ? last : null;
    },
  };
}
