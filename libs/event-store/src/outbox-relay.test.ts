import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { createKysely, dropDatabase, ensureDatabase, migrateToLatest } from '@keyplane/database';
import { connectNats, deleteStreams, ensureStream } from '@keyplane/nats';
import { appendToStream } from './event-store.js';
import type { NewEvent, StoredEvent } from './events.js';
import { jetStreamPublisher, POSITION_HEADER } from './jetstream-publisher.js';
import { eventStoreMigration } from './migration.js';
import { OutboxRelay, type OutboxPublisher } from './outbox-relay.js';
import type { EventStoreTables } from './schema.js';

const suffix = randomBytes(4).toString('hex');
const url = `${process.env.TEST_DATABASE_SERVER ?? 'postgres://postgres@127.0.0.1:5432'}/kp_outbox_${suffix}`;
const natsUrl = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

let root: Kysely<EventStoreTables>;
let nc: NatsConnection;
const streams: string[] = [];

beforeAll(async () => {
  await ensureDatabase(url);
  root = createKysely<EventStoreTables>({ url, max: 6 });
  nc = await connectNats({ url: natsUrl, name: 'outbox-relay-test' });
});

afterAll(async () => {
  await deleteStreams(nc, streams);
  await nc?.close();
  await root?.destroy();
  await dropDatabase(url);
});

interface Fixture {
  db: Kysely<EventStoreTables>;
  stream: string;
  subject: string;
  publisher: OutboxPublisher;
}

/** Each test gets its own schema (so its own global log and checkpoint) and its own stream. */
async function fixture(): Promise<Fixture> {
  const id = `${streams.length}_${randomBytes(3).toString('hex')}`;
  const schema = `relay_${id}`;
  await migrateToLatest(root as Kysely<unknown>, schema, { '0001_event_store': eventStoreMigration(schema) });
  const stream = `RELAY_TEST_${suffix}_${id}`;
  const subject = `relaytest${suffix}${id.replace('_', '')}`;
  streams.push(stream);
  await ensureStream(nc, { name: stream, subjects: [`${subject}.>`], duplicateWindowSeconds: 60 });
  const db = root.withSchema(schema);
  const publisher = jetStreamPublisher({ nc, stream, messageOf: (event) => ({ subject: `${subject}.${event.streamId}`, body: event.data }) });
  return { db, stream, subject, publisher };
}

let counter = 0;
function events(n: number): NewEvent[] {
  return Array.from({ length: n }, () => {
    counter += 1;
    return { eventId: `evt-${counter}-${randomBytes(4).toString('hex')}`, type: 'Happened', occurredAt: '2026-11-26T10:00:00.000Z', data: { n: counter } };
  });
}

async function storeEvents(db: Kysely<EventStoreTables>, streamId: string, count: number): Promise<StoredEvent[]> {
  const stored: StoredEvent[] = [];
  for (const e of events(count)) {
    stored.push(...(await appendToStream(db, streamId, stored.length, [e])));
  }
  return stored;
}

interface OnStream {
  seq: number;
  subject: string;
  msgId: string;
  position: number;
  body: unknown;
}

async function messagesOn(stream: string): Promise<OnStream[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream);
  const out: OnStream[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq });
    if (!m) continue;
    out.push({ seq: m.seq, subject: m.subject, msgId: m.header.get('Nats-Msg-Id'), position: Number(m.header.get(POSITION_HEADER)), body: m.json() });
  }
  return out;
}

/** Wraps a publisher: records every event published, and fails after `failAfter` of them when set. */
function counting(inner: OutboxPublisher, failAfter = Infinity) {
  const published: string[] = [];
  const publisher: OutboxPublisher = {
    async publishInOrder(events) {
      const taken = events.slice(0, Math.max(0, failAfter - published.length));
      await inner.publishInOrder(taken);
      published.push(...taken.map((event) => event.eventId));
      if (taken.length < events.length) throw new Error('relay crashed');
    },
    lastPublished: () => inner.lastPublished(),
  };
  return { publisher, published };
}

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function checkpointOf(db: Kysely<EventStoreTables>, name: string): Promise<number | undefined> {
  const row = await db.selectFrom('outbox_checkpoints').select('position').where('name', '=', name).executeTakeFirst();
  return row?.position;
}

describe('OutboxRelay with the JetStream publisher', () => {
  it('publishes every stored event in global order, with Nats-Msg-Id = event id and its position', async () => {
    const { db, stream, subject, publisher } = await fixture();
    const a = await storeEvents(db, 'stream-a', 2);
    const b = await storeEvents(db, 'stream-b', 1);
    const stored = [a[0], a[1], b[0]].sort((x, y) => x.globalPosition - y.globalPosition);

    const relay = new OutboxRelay({ db, publisher, name: 'test', pollIntervalMs: 50 });
    await relay.start();
    try {
      await relay.whenPublished(stored.at(-1)!.globalPosition);
      const onStream = await messagesOn(stream);
      expect(onStream).toEqual(
        stored.map((e, i) => ({ seq: i + 1, subject: `${subject}.${e.streamId}`, msgId: e.eventId, position: e.globalPosition, body: e.data })),
      );

      // Appended after start: a wake publishes it without waiting for a poll.
      const [later] = await storeEvents(db, 'stream-c', 1);
      relay.wake();
      await relay.whenPublished(later.globalPosition);
      expect((await messagesOn(stream)).map((m) => m.msgId)).toEqual([...stored.map((e) => e.eventId), later.eventId]);
      expect(await checkpointOf(db, 'test')).toBe(later.globalPosition);
    } finally {
      await relay.stop();
    }
  });

  it('after a crash part-way through a batch, a restarted relay publishes the rest and nothing twice', async () => {
    const { db, stream, publisher } = await fixture();
    const stored = await storeEvents(db, 'stream-a', 5);

    const crashing = counting(publisher, 2);
    const errors: unknown[] = [];
    const first = new OutboxRelay({ db, publisher: crashing.publisher, name: 'test', onError: (error) => errors.push(error) });
    await first.start();
    // A pass may find nothing yet while any older transaction in the cluster is open; wait for the crash.
    await until('the relay to crash', () => errors.length > 0);
    await first.stop();
    expect(errors.map(String)).toContain('Error: relay crashed');
    expect(crashing.published).toEqual(stored.slice(0, 2).map((e) => e.eventId));
    // Never past an event the broker does not hold.
    expect(await checkpointOf(db, 'test')).toBeLessThan(stored[2].globalPosition);

    const restarted = counting(publisher);
    const second = new OutboxRelay({ db, publisher: restarted.publisher, name: 'test', pollIntervalMs: 50 });
    await second.start();
    try {
      await second.whenPublished(stored.at(-1)!.globalPosition);
    } finally {
      await second.stop();
    }
    // The broker already held the first two: the restart starts after them, not from the stale checkpoint.
    expect(restarted.published).toEqual(stored.slice(2).map((e) => e.eventId));
    const onStream = await messagesOn(stream);
    expect(onStream.map((m) => m.msgId)).toEqual(stored.map((e) => e.eventId));
    expect(new Set(onStream.map((m) => m.msgId)).size).toBe(stored.length);
  });

  it('when the broker is ahead of the checkpoint (publish done, checkpoint not committed), restart publishes nothing again', async () => {
    const { db, stream, publisher } = await fixture();
    const stored = await storeEvents(db, 'stream-a', 3);
    const relay = new OutboxRelay({ db, publisher, name: 'test' });
    await relay.start();
    await relay.stop();
    // Whatever ran before the restart reached the broker, then died before its checkpoint commit.
    await db.updateTable('outbox_checkpoints').set({ position: 0 }).where('name', '=', 'test').execute();
    await publisher.publishInOrder(stored);

    const restarted = counting(publisher);
    const again = new OutboxRelay({ db, publisher: restarted.publisher, name: 'test' });
    await again.start();
    expect(again.publishedPosition).toBe(stored.at(-1)!.globalPosition);
    await again.publishBatch();
    await again.stop();

    expect(restarted.published).toEqual([]);
    expect((await messagesOn(stream)).map((m) => m.msgId)).toEqual(stored.map((e) => e.eventId));
  });

  it('publishes events stored while it was stopped once it starts again', async () => {
    const { db, stream, publisher } = await fixture();
    const before = await storeEvents(db, 'stream-a', 2);
    const relay = new OutboxRelay({ db, publisher, name: 'test', pollIntervalMs: 50 });
    await relay.start();
    await relay.whenPublished(before.at(-1)!.globalPosition);
    await relay.stop();

    const whileStopped = await storeEvents(db, 'stream-b', 2);
    const restarted = counting(publisher);
    const again = new OutboxRelay({ db, publisher: restarted.publisher, name: 'test', pollIntervalMs: 50 });
    await again.start();
    try {
      await again.whenPublished(whileStopped.at(-1)!.globalPosition);
    } finally {
      await again.stop();
    }
    expect(restarted.published).toEqual(whileStopped.map((e) => e.eventId));
    expect((await messagesOn(stream)).map((m) => m.msgId)).toEqual([...before, ...whileStopped].map((e) => e.eventId));
  });

  it('two relays sharing a checkpoint (two replicas) publish each event exactly once between them', async () => {
    const { db, stream, publisher } = await fixture();
    const a = counting(publisher);
    const b = counting(publisher);
    const relays = [
      new OutboxRelay({ db, publisher: a.publisher, name: 'test', pollIntervalMs: 20, batchSize: 2 }),
      new OutboxRelay({ db, publisher: b.publisher, name: 'test', pollIntervalMs: 20, batchSize: 2 }),
    ];
    await Promise.all(relays.map((r) => r.start()));
    try {
      const stored = (await Promise.all([storeEvents(db, 'stream-a', 6), storeEvents(db, 'stream-b', 6)])).flat();
      const last = Math.max(...stored.map((e) => e.globalPosition));
      relays.forEach((r) => r.wake());
      await Promise.all(relays.map((r) => r.whenPublished(last)));

      expect([...a.published, ...b.published].sort()).toEqual(stored.map((e) => e.eventId).sort());
      const onStream = await messagesOn(stream);
      expect(onStream.map((m) => m.position)).toEqual(stored.map((e) => e.globalPosition).sort((x, y) => x - y));
    } finally {
      await Promise.all(relays.map((r) => r.stop()));
    }
  });
});
