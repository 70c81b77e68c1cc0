import { DiscardPolicy, jetstreamManager } from '@nats-io/jetstream';
import type { Kysely } from 'kysely';
import { UsageBatch, type UsageRecorded } from '@keyplane/contracts';
import { createKysely } from '@keyplane/database';
import { waitFor } from '@keyplane/testing';
import type { AuthDatabase } from '../src/db/schema.js';
import { UsagePublisher } from '../src/usage/usage-publisher.js';
import { issued } from './support/key-events.js';
import { awayFromWindowEdge, startReplica, startTestbed, type Replica, type Testbed } from './support/harness.js';

// The usage stream refusing writes (auth README "JetStream failing while core NATS works"):
// a replica spills what the stream refuses to auth.usage_spill, holding nothing in memory, and
// publishes it from there once the stream takes writes again; one stopped meanwhile leaves it
// there for the next.

let bed: Testbed;
let db: Kysely<AuthDatabase>;
const replicas: Replica[] = [];

beforeAll(async () => {
  bed = await startTestbed('auth_usage_spill');
  db = createKysely<AuthDatabase>({ url: bed.database.url, max: 2 });
});

afterAll(async () => {
  for (const replica of replicas) await replica.handle.close();
  await db?.destroy();
  await bed?.close();
});

/** Every usage event on the stream. */
async function eventsOnStream(): Promise<UsageRecorded[]> {
  const jsm = await jetstreamManager(bed.keys.nc);
  const { state } = await jsm.streams.info(bed.nats.ns.streams.usageEvents);
  const events: UsageRecorded[] = [];
  for (let seq = state.first_seq; state.messages > 0 && seq <= state.last_seq; seq++) {
    const msg = await jsm.streams.getMessage(bed.nats.ns.streams.usageEvents, { seq });
    if (msg) events.push(...UsageBatch.parse(msg.json()).events);
  }
  return events;
}

/** The request ids among the stream's events that start with `prefix`, and how many events carry them. */
async function onStream(prefix: string) {
  const events = (await eventsOnStream()).filter((event) => event.requestId.startsWith(prefix));
  return { events: events.length, requests: new Set(events.map((event) => event.requestId)).size };
}

async function spilled(): Promise<{ rows: number; events: number }> {
  const row = await db
    .selectFrom('auth.usage_spill')
    .select((eb) => [eb.fn.countAll<number>().as('rows'), eb.fn.coalesce(eb.fn.sum<number>('events'), eb.lit(0)).as('events')])
    .executeTakeFirstOrThrow();
  return { rows: Number(row.rows), events: Number(row.events) };
}

async function metric(replica: Replica, name: string): Promise<number> {
  const text = await (await fetch(`${replica.handle.url}/metrics`)).text();
  return Number(new RegExp(`^${name}(?:{[^}]*})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
}

/** Makes the usage stream refuse every write (full, discarding new); returns how to restore it. */
async function refuseUsageWrites(): Promise<() => Promise<void>> {
  const jsm = await jetstreamManager(bed.keys.nc);
  const stream = bed.nats.ns.streams.usageEvents;
  const { config, state } = await jsm.streams.info(stream);
  await jsm.streams.update(stream, { max_msgs: Math.max(1, state.messages), discard: DiscardPolicy.New });
  return async () => {
    await jsm.streams.update(stream, { max_msgs: config.max_msgs, discard: config.discard });
  };
}

describe('usage events while the stream refuses writes', () => {
  it('are spilled to Postgres at once, none held in memory, and published from there by the replica once the stream takes writes again', async () => {
    await awayFromWindowEdge();
    const key = issued({ rateLimits: { hour: 100_000, day: 100_000 } });
    await bed.keys.publish(key.event);
    // A stream holding a message, so that "full" refuses the very next one.
    await bed.gateway.decide(key.secret.hash, null, { requestId: 'before-0' });
    await waitFor('the first event on the stream', async () => (await onStream('before-')).events === 1);
    const count = 50;
    const restore = await refuseUsageWrites();
    try {
      await Promise.all(Array.from({ length: count }, (_, n) => bed.gateway.decide(key.secret.hash, null, { requestId: `spilled-${n}` })));
      const usage = bed.replica.handle.app.get(UsagePublisher);
      await waitFor('every refused event spilled', async () => usage.pending === 0 && (await metric(bed.replica, 'auth_usage_events_spilled_total')) === count);
      expect({ table: (await spilled()).events, gauge: await metric(bed.replica, 'auth_usage_spill_events'), onStream: await onStream('spilled-') }).toEqual({
        table: count,
        gauge: count,
        onStream: { events: 0, requests: 0 },
      });
      expect(bed.replica.logs.text()).toContain('spilling usage events to Postgres');
    } finally {
      await restore();
    }
    // The drain retries with backoff of at most 5 s.
    await waitFor('the spilled events on the stream', async () => (await spilled()).rows === 0 && (await onStream('spilled-')).events === count, 15_000, 50);
    expect({ onStream: await onStream('spilled-'), drained: await metric(bed.replica, 'auth_usage_events_drained_total') }).toEqual({
      onStream: { events: count, requests: count },
      drained: count,
    });
  });

  it('are neither lost nor held when the replica is stopped (SIGTERM) meanwhile: they wait in Postgres, and the next replica publishes them', async () => {
    await awayFromWindowEdge();
    const stopping = await startReplica(bed.database.url, bed.nats.ns);
    // Only `stopping` answers from here on: the testbed's replica leaves the queue group.
    await bed.replica.handle.close();
    const key = issued({ rateLimits: { hour: 100_000, day: 100_000 } });
    await bed.keys.publish(key.event);
    const count = 30;
    const restore = await refuseUsageWrites();
    try {
      await Promise.all(Array.from({ length: count }, (_, n) => bed.gateway.decide(key.secret.hash, null, { requestId: `stopped-${n}` })));
      await stopping.handle.close();
      expect({ table: (await spilled()).events, onStream: await onStream('stopped-') }).toEqual({ table: count, onStream: { events: 0, requests: 0 } });
      expect(stopping.logs.text()).not.toContain('they are lost');
    } finally {
      await restore();
    }
    const next = await startReplica(bed.database.url, bed.nats.ns);
    replicas.push(next);
    await waitFor('the next replica to publish them', async () => (await spilled()).rows === 0, 10_000, 50);
    expect(await onStream('stopped-')).toEqual({ events: count, requests: count });
  });
});
