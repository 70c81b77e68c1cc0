import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { createKysely, dropDatabase, ensureDatabase, migrateToLatest } from '@keyplane/database';
import { connectNats, deleteStreams, ensureStream, type StreamSpec } from '@keyplane/nats';
import { appendToStream } from './event-store.js';
import type { StoredEvent } from './events.js';
import { jetStreamOutboxStream } from './jetstream-outbox-stream.js';
import { jetStreamPublisher, POSITION_HEADER, STORED_THROUGH_HEADER } from './jetstream-publisher.js';
import { eventStoreMigration } from './migration.js';
import { OutboxRelay, type OutboxPublisher, type OutboxStream, type StreamLoss } from './outbox-relay.js';
import type { EventStoreTables } from './schema.js';

// The relay given its stream (OutboxRelayOptions.stream): a stream that lost history is made
// anew and every stored event published again from the first; a whole stream is never touched.

const suffix = randomBytes(4).toString('hex');
const url = `${process.env.TEST_DATABASE_SERVER ?? 'postgres://postgres@127.0.0.1:5432'}/kp_outbox_stream_${suffix}`;
const natsUrl = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

let root: Kysely<EventStoreTables>;
let nc: NatsConnection;
let jsm: JetStreamManager;
const streams: string[] = [];
const running: OutboxRelay[] = [];

beforeAll(async () => {
  await ensureDatabase(url);
  root = createKysely<EventStoreTables>({ url, max: 6 });
  nc = await connectNats({ url: natsUrl, name: 'outbox-relay-stream-test' });
  jsm = await jetstreamManager(nc);
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((relay) => relay.stop()));
});

afterAll(async () => {
  await deleteStreams(nc, streams);
  await nc?.close();
  await root?.destroy();
  await dropDatabase(url);
});

/** Polls until `check` holds (a throw counts as not yet); false when it still does not after `timeoutMs`. */
async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!(await Promise.resolve().then(check).catch(() => false))) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

interface Fixture {
  db: Kysely<EventStoreTables>;
  spec: StreamSpec;
  /** Every publish the relays made, by event id, in order. */
  published: string[];
  losses: StreamLoss[];
  /** How many times the relays looked at the stream. */
  looks: { count: number };
  relay(batchSize?: number): Promise<OutboxRelay>;
  store(count: number): Promise<StoredEvent[]>;
  /** The stream's messages as (Nats-Msg-Id, position header), in order. */
  onStream(): Promise<{ id: string; position: number }[]>;
  /** Every stored event as (event id, position), in store order. */
  inStore(): Promise<{ id: string; position: number }[]>;
  /** The store goes back to just after `position` (a restore, a failover that lost the last commits): later events, and the checkpoint and position sequence past it, gone. */
  storeBackTo(position: number): Promise<void>;
  /** The Keyplane-Stored-Through header of each message, in order ('' where there is none). */
  storedThroughHeaders(): Promise<string[]>;
}

/** Each test gets its own schema (so its own global log and checkpoint) and its own stream, with a minute of dedup. */
async function fixture(): Promise<Fixture> {
  const id = `${streams.length}_${randomBytes(3).toString('hex')}`;
  const schema = `relay_stream_${id}`;
  await migrateToLatest(root as Kysely<unknown>, schema, { '0001_event_store': eventStoreMigration(schema) });
  const subject = `relaystream${suffix}${id.replace('_', '')}`;
  const spec: StreamSpec = { name: `RELAY_STREAM_${suffix}_${id}`, subjects: [`${subject}.>`], duplicateWindowSeconds: 60 };
  streams.push(spec.name);
  await ensureStream(nc, spec);
  const db = root.withSchema(schema);
  const inner = jetStreamPublisher({ nc, stream: spec.name, messageOf: (event) => ({ subject: `${subject}.${event.streamId}`, body: event.data }) });
  const published: string[] = [];
  const publisher: OutboxPublisher = {
    async publishInOrder(events, remade) {
      await inner.publishInOrder(events, remade);
      published.push(...events.map((event) => event.eventId));
    },
    lastPublished: () => inner.lastPublished(),
  };
  const losses: StreamLoss[] = [];
  const looks = { count: 0 };
  const real = jetStreamOutboxStream(nc, spec);
  const stream: OutboxStream = {
    ends() {
      looks.count += 1;
      return real.ends();
    },
    recreate: () => real.recreate(),
  };
  let stored = 0;
  return {
    db,
    spec,
    published,
    losses,
    looks,
    async relay(batchSize) {
      const relay = new OutboxRelay({
        db,
        publisher,
        stream,
        batchSize,
        name: 'test',
        pollIntervalMs: 20,
        streamCheckIntervalMs: 100,
        onStreamLoss: (loss) => losses.push(loss),
      });
      await relay.start();
      running.push(relay);
      return relay;
    },
    async store(count) {
      const events: StoredEvent[] = [];
      for (let i = 0; i < count; i++) {
        stored += 1;
        const eventId = `evt-${id}-${stored}`;
        events.push(...(await appendToStream(db, `s-${stored}`, 0, [{ eventId, type: 'Happened', occurredAt: '2026-11-26T10:00:00.000Z', data: { n: stored } }])));
      }
      return events;
    },
    async onStream() {
      const info = await jsm.streams.info(spec.name);
      const out: { id: string; position: number }[] = [];
      for (let seq = info.state.first_seq; info.state.messages > 0 && seq <= info.state.last_seq; seq++) {
        const m = await jsm.streams.getMessage(spec.name, { seq });
        if (m) out.push({ id: m.header.get('Nats-Msg-Id'), position: Number(m.header.get(POSITION_HEADER)) });
      }
      return out;
    },
    async inStore() {
      const rows = await db.selectFrom('events').select(['event_id', 'global_position']).orderBy('global_position').execute();
      return rows.map((r) => ({ id: r.event_id, position: r.global_position }));
    },
    async storeBackTo(position) {
      await db.deleteFrom('events').where('global_position', '>', position).execute();
      await db.updateTable('outbox_checkpoints').set({ position }).execute();
      await sql`SELECT setval(${`${schema}.events_global_position_seq`}, ${position})`.execute(db);
    },
    async storedThroughHeaders() {
      const info = await jsm.streams.info(spec.name);
      const out: string[] = [];
      for (let seq = info.state.first_seq; info.state.messages > 0 && seq <= info.state.last_seq; seq++) {
        out.push((await jsm.streams.getMessage(spec.name, { seq }))?.header.get(STORED_THROUGH_HEADER) ?? '');
      }
      return out;
    },
  };
}

/** Waits (bounded) until the stream holds exactly the store; what it holds then, for the assertion. */
async function streamHoldsStore(f: Fixture) {
  const same = async () => JSON.stringify(await f.onStream()) === JSON.stringify(await f.inStore());
  await eventually(same);
  return f.onStream().catch((error: unknown) => String(error));
}

/** A relay that published what is stored, idle on a whole stream. */
async function published(count: number) {
  const f = await fixture();
  const events = await f.store(count);
  const relay = await f.relay();
  await relay.whenPublished(events.at(-1)!.globalPosition);
  f.published.splice(0);
  return { f, relay, events };
}

describe('OutboxRelay with its stream: a stream that lost history is made anew', () => {
  it.each([
    ['deleted', (f: Fixture) => jsm.streams.delete(f.spec.name), null],
    ['purged (its message ids still in the duplicate window)', (f: Fixture) => jsm.streams.purge(f.spec.name), { first: 0, last: 0, gaps: false }],
    ['purged but its last message (its beginning lost)', (f: Fixture) => jsm.streams.purge(f.spec.name, { keep: 1 }), { first: 4, last: 4, gaps: false }],
    ['left with a message deleted from inside it', (f: Fixture) => jsm.streams.deleteMessage(f.spec.name, 2), { first: 1, last: 4, gaps: true }],
  ])('when %s, while idle: every stored event is published again, once, in order, and the loss reported once', async (_case, lose, onStream) => {
    const { f, events } = await published(4);
    await lose(f);
    expect(await streamHoldsStore(f)).toEqual(await f.inStore());
    // The stream's last message, where there is one, is the fourth event.
    const seen = onStream && { ...onStream, lastEventId: onStream.last > 0 ? events[3].eventId : '' };
    expect({ published: f.published, losses: f.losses }).toEqual({ published: events.map((e) => e.eventId), losses: [{ checkpoint: 4, onStream: seen }] });
  });

  it('an event stored after the loss comes after every earlier one, and waits for them', async () => {
    const { f, relay } = await published(3);
    await jsm.streams.delete(f.spec.name);
    const [later] = await f.store(1);
    relay.wake();
    await relay.whenPublished(later.globalPosition);
    expect(await f.onStream()).toEqual(await f.inStore());
  });

  it('made again empty by another service (its own ensureStream), the stream is used as it is and filled', async () => {
    const { f } = await published(3);
    await jsm.streams.delete(f.spec.name);
    await ensureStream(nc, f.spec);
    const { created } = await jsm.streams.info(f.spec.name);
    expect(await streamHoldsStore(f)).toEqual(await f.inStore());
    expect({ created: (await jsm.streams.info(f.spec.name)).created, losses: f.losses.length }).toEqual({ created, losses: 1 });
  });

  it('two relays sharing the checkpoint (two replicas) put each event on the new stream once between them', async () => {
    const { f } = await published(30);
    await f.relay(4);
    await jsm.streams.purge(f.spec.name);
    expect(await streamHoldsStore(f)).toEqual(await f.inStore());
    expect(f.published.length).toBe(30);
  });

  it('a stream missing before anything was published is made, and no loss is reported', async () => {
    const f = await fixture();
    await jsm.streams.delete(f.spec.name);
    await f.relay();
    await f.store(2);
    expect(await streamHoldsStore(f)).toEqual(await f.inStore());
    expect(f.losses).toEqual([]);
  });
});

describe('OutboxRelay with its stream: a whole stream is never touched', () => {
  it('idle through several checks, and through new events, it publishes each event once and reports nothing', async () => {
    const { f, relay } = await published(5);
    const { created } = await jsm.streams.info(f.spec.name);
    const looked = f.looks.count;
    expect(await eventually(() => f.looks.count >= looked + 5)).toBe(true);
    expect({ published: f.published, losses: f.losses }).toEqual({ published: [], losses: [] });
    const later = await f.store(3);
    relay.wake();
    await relay.whenPublished(later.at(-1)!.globalPosition);
    expect({ published: f.published, losses: f.losses, created: (await jsm.streams.info(f.spec.name)).created }).toEqual({
      published: later.map((e) => e.eventId),
      losses: [],
      created,
    });
    expect(await f.onStream()).toEqual(await f.inStore());
  });

  it('a message the relay did not publish (no position), appended after its events, is passed over: nothing is remade', async () => {
    const { f, relay } = await published(3);
    const { created } = await jsm.streams.info(f.spec.name);
    await jetstream(nc).publish(f.spec.subjects[0].replace('>', 'foreign'), new TextEncoder().encode('{}'));
    const looked = f.looks.count;
    expect(await eventually(() => f.looks.count >= looked + 3)).toBe(true);
    const [later] = await f.store(1);
    relay.wake();
    await relay.whenPublished(later.globalPosition);
    expect({ published: f.published, losses: f.losses, created: (await jsm.streams.info(f.spec.name)).created }).toEqual({
      published: [later.eventId],
      losses: [],
      created,
    });
  });

  it('a stream ahead of the checkpoint (published, checkpoint not committed) is taken as it is', async () => {
    const { f, relay } = await published(2);
    await relay.stop();
    running.splice(running.indexOf(relay), 1);
    const [ahead] = await f.store(1);
    await jetStreamPublisher({ nc, stream: f.spec.name, messageOf: (event) => ({ subject: f.spec.subjects[0].replace('>', 'ahead'), body: event.data }) }).publishInOrder([ahead]);
    const again = await f.relay();
    const [after] = await f.store(1);
    again.wake();
    await again.whenPublished(after.globalPosition);
    expect({ published: f.published, losses: f.losses }).toEqual({ published: [after.eventId], losses: [] });
  });
});

describe('OutboxRelay with its stream: the store went back to an earlier point while the relay runs', () => {
  it('an event stored at a position the relay published is waited for until it is on the stream, and the stream is made anew', async () => {
    const { f, relay, events } = await published(4);
    await f.storeBackTo(events[1].globalPosition);
    const [reused] = await f.store(1);
    expect(reused.globalPosition).toBeLessThanOrEqual(relay.publishedPosition);
    await relay.whenPublished(reused.globalPosition);
    // Resolved: the event is on the stream, which holds exactly the store.
    expect(await f.onStream()).toEqual(await f.inStore());
    expect(f.losses).toHaveLength(1);
  });

  it('the stream made anew says on its first message, and only there, through which position the store held events', async () => {
    const { f, events } = await published(4);
    await f.storeBackTo(events[1].globalPosition);
    expect(await streamHoldsStore(f)).toEqual(await f.inStore());
    expect(await f.storedThroughHeaders()).toEqual([String(events[1].globalPosition), '']);
  });

  it('a stream that never lost anything carries no such header', async () => {
    const { f, relay } = await published(2);
    const [later] = await f.store(1);
    relay.wake();
    await relay.whenPublished(later.globalPosition);
    expect(await f.storedThroughHeaders()).toEqual(['', '', '']);
  });
});
