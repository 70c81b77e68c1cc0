import { jetstreamManager } from '@nats-io/jetstream';
import { sql } from 'kysely';
import { DURABLE_NAME } from '../src/ingest/usage-consumer.js';
import { MeteringHarness } from './support/metering-harness.js';
import { keyIdOf, usageEvent } from '@keyplane/testing';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Batches take turns on this advisory lock; holding it from the test stalls every store.
const INGEST_LOCK = sql`hashtext('metering.ingest')`;

describe('metering read-ahead', () => {
  let h: MeteringHarness;

  beforeAll(async () => {
    h = await MeteringHarness.create('readahead', { INGEST_BATCH_SIZE: '5', INGEST_LINGER_MS: '0' });
    await h.start();
  });

  afterAll(async () => {
    await h.close();
  });

  it('takes only a few batches ahead of a stalled store, and stores everything once the store moves', async () => {
    const keyId = keyIdOf('readahead');
    let release = () => {};
    let taken = () => {};
    const lockTaken = new Promise<void>((resolve) => (taken = resolve));
    const holding = h.db.connection().execute(async (connection) => {
      await sql`SELECT pg_advisory_lock(${INGEST_LOCK})`.execute(connection);
      taken();
      await new Promise<void>((resolve) => (release = resolve));
      await sql`SELECT pg_advisory_unlock(${INGEST_LOCK})`.execute(connection);
    });
    await lockTaken;

    try {
      const events = Array.from({ length: 400 }, (_, n) => usageEvent({ keyId, occurredAt: new Date(Date.parse('2026-06-01T00:00:00.000Z') + n * 1000).toISOString() }));
      await h.publishBatches(events.slice(0, 200), 10);
      await h.publish(events.slice(200));
      await sleep(1000);

      const jsm = await jetstreamManager(h.nc);
      const stalled = await jsm.consumers.info(h.ns.streams.usageEvents, DURABLE_NAME);
      // 220 messages wait. Delivered and unacked: the stalled batch, four batches' worth read
      // ahead, and what the stream's iterator fetched before the receiver stopped reading it.
      expect(stalled.num_ack_pending).toBeGreaterThan(0);
      expect(stalled.num_ack_pending).toBeLessThanOrEqual(1 + 4 * 5 + 1 + 2 * 5);
      expect(stalled.num_pending).toBeGreaterThanOrEqual(220 - 32);
    } finally {
      // Released even when an expectation fails, so the harness can close its pool.
      release();
      await holding;
    }
    await h.settled(30000);
    const stored = await h.db.selectFrom('usage_events').select((eb) => eb.fn.countAll<number>().as('n')).where('key_id', '=', keyId).executeTakeFirstOrThrow();
    expect(Number(stored.n)).toBe(400);
  });
});
