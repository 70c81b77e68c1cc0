import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats, deleteStreams } from '@keyplane/nats';
import type { StoredEvent } from './events.js';
import { jetStreamPublisher, POSITION_HEADER, STORED_THROUGH_HEADER } from './jetstream-publisher.js';

const suffix = randomBytes(4).toString('hex');
const natsUrl = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
/** The stream refuses a message larger than this: a deterministic failure in the middle of a batch. */
const MAX_MESSAGE_BYTES = 1024;

let nc: NatsConnection;
const streams: string[] = [];

beforeAll(async () => {
  nc = await connectNats({ url: natsUrl, name: 'jetstream-publisher-test' });
});

afterAll(async () => {
  await deleteStreams(nc, streams);
  await nc?.close();
});

async function freshStream() {
  const id = `${streams.length}_${randomBytes(3).toString('hex')}`;
  const name = `PUBLISHER_TEST_${suffix}_${id}`;
  const subject = `publishertest${suffix}${id.replace('_', '')}`;
  streams.push(name);
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name, subjects: [`${subject}.>`], max_msg_size: MAX_MESSAGE_BYTES, duplicate_window: 60_000_000_000 });
  const publisher = jetStreamPublisher({ nc, stream: name, messageOf: (event) => ({ subject: `${subject}.${event.streamId}`, body: event.data }) });
  return { name, publisher };
}

let position = 0;
function stored(count: number, data: (index: number) => unknown = (index) => ({ index })): StoredEvent[] {
  return Array.from({ length: count }, (_, index) => {
    position += 1;
    return { eventId: `evt-${position}-${suffix}`, type: 'Happened', occurredAt: '2026-11-27T10:00:00.000Z', data: data(index), streamId: `s${index % 3}`, streamVersion: 1, globalPosition: position };
  });
}

async function onStream(stream: string) {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream);
  const messages: { seq: number; msgId: string; position: number; storedThrough: string | undefined }[] = [];
  for (let seq = info.state.first_seq; info.state.messages > 0 && seq <= info.state.last_seq; seq++) {
    const message = await jsm.streams.getMessage(stream, { seq });
    if (!message) continue;
    const through = message.header.get(STORED_THROUGH_HEADER);
    messages.push({ seq: message.seq, msgId: message.header.get('Nats-Msg-Id'), position: Number(message.header.get(POSITION_HEADER)), storedThrough: through === '' ? undefined : through });
  }
  return messages;
}

const expected = (events: StoredEvent[], storedThrough?: number) =>
  events.map((event, index) => ({ seq: index + 1, msgId: event.eventId, position: event.globalPosition, storedThrough: index === 0 && storedThrough !== undefined ? String(storedThrough) : undefined }));

describe('jetStreamPublisher.publishInOrder', () => {
  it('puts a batch on the stream in its order, the stored-through header on the first message only', async () => {
    const { name, publisher } = await freshStream();
    const events = stored(300);

    await publisher.publishInOrder(events, { storedThrough: 299 });

    expect(await onStream(name)).toEqual(expected(events, 299));
  });

  it('when a message in the middle is refused, the stream holds the events before it and none after', async () => {
    const { name, publisher } = await freshStream();
    const events = stored(40, (index) => (index === 25 ? { padding: 'x'.repeat(MAX_MESSAGE_BYTES) } : { index }));

    await expect(publisher.publishInOrder(events)).rejects.toThrow();

    expect(await onStream(name)).toEqual(expected(events.slice(0, 25)));
  });

  it('a batch that begins with events the stream holds already adds only the rest, once each and in order', async () => {
    const { name, publisher } = await freshStream();
    const events = stored(30);
    await publisher.publishInOrder(events.slice(0, 12));

    await publisher.publishInOrder(events);

    expect(await onStream(name)).toEqual(expected(events));
  });
});
