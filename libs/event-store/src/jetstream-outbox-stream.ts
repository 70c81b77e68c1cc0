import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { ensureStream, type StreamSpec } from '@keyplane/nats';
import type { OutboxStream } from './outbox-relay.js';
import { positionAt, publishedAt, streamInfoOrNull, type PublishedEvent } from './stream-end.js';

/**
 * How far back from the stream's end to look for a message the relay published. Messages it did
 * not publish carry no position and say nothing about what the stream kept: one appended after
 * its events is passed over rather than taken for a stream that lost everything. Only the keys
 * service may publish there (infra/nats/nats.conf), so a run of more than this is not expected.
 */
export const OUTBOX_STREAM_LOOK_BACK = 16;

/** The JetStream stream a relay publishes to, as the relay checks it for lost history and makes it anew. */
export function jetStreamOutboxStream(nc: NatsConnection, spec: StreamSpec): OutboxStream {
  let manager: JetStreamManager | undefined;
  // One manager, made once it can be: making one costs a JetStream API round trip, and the relay looks every second.
  const jsm = async () => (manager ??= await jetstreamManager(nc));
  // A stream's first message stays put until the stream loses it: read again only when its sequence moves or the stream is another.
  let first: { at: string; position: number } | undefined;
  return {
    async ends() {
      const info = await streamInfoOrNull(await jsm(), spec.name);
      if (!info) return null;
      const { messages, first_seq, last_seq, num_deleted } = info.state;
      if (messages === 0) return { first: 0, last: 0, lastEventId: '', gaps: false };
      const at = `${info.created} ${first_seq}`;
      if (first?.at !== at) first = { at, position: await positionAt(await jsm(), spec.name, first_seq) };
      const last = await lastPublished(await jsm(), spec.name, first_seq, last_seq);
      return { first: first.position, last: last.position, lastEventId: last.eventId, gaps: (num_deleted ?? 0) > 0 };
    },
    async recreate() {
      const info = await streamInfoOrNull(await jsm(), spec.name);
      // A stream that ever held a message remembers its message ids for the duplicate window,
      // purged or not, and would drop the events published again: only a new stream takes them.
      if (info && info.state.last_seq > 0) await (await jsm()).streams.delete(spec.name);
      await ensureStream(nc, spec);
    },
  };
}

/** The last message that carries a position, within OUTBOX_STREAM_LOOK_BACK of the end; position 0 when none does. */
async function lastPublished(jsm: JetStreamManager, stream: string, firstSeq: number, lastSeq: number): Promise<PublishedEvent> {
  for (let seq = lastSeq; seq >= Math.max(firstSeq, lastSeq - OUTBOX_STREAM_LOOK_BACK + 1); seq--) {
    const published = await publishedAt(jsm, stream, seq);
    if (published.position > 0) return published;
  }
  return { position: 0, eventId: '' };
}
