import { jetstreamManager } from '@nats-io/jetstream';
import { sql } from 'kysely';
import { keyIdOf, usageEvent, waitFor } from '@keyplane/testing';
import { MeteringHarness } from './support/metering-harness.js';

describe('metering ingest', () => {
  let h: MeteringHarness;

  beforeAll(async () => {
    h = await MeteringHarness.create('ingest');
    await h.start();
  });

  afterAll(async () => {
    await h.close();
  });

  const windowsOf = (keyId: string) =>
    h.db.selectFrom('usage_windows').selectAll().where('key_id', '=', keyId).orderBy('granularity').orderBy('window_start').execute();

  it('counts each outcome in the hour and the day window of the event', async () => {
    const keyId = keyIdOf('outcomes');
    const at = (minute: number) => `2026-01-15T10:${String(minute).padStart(2, '0')}:00.000Z`;
    await h.publish([
      usageEvent({ keyId, occurredAt: at(1) }),
      usageEvent({ keyId, occurredAt: at(2) }),
      usageEvent({ keyId, occurredAt: at(3), outcome: 'forbidden', reason: 'missing_permission' }),
      usageEvent({ keyId, occurredAt: at(4), outcome: 'rate_limited', reason: 'hour_limit' }),
      usageEvent({ keyId, occurredAt: at(5), outcome: 'unauthorized', reason: 'expired' }),
      usageEvent({ keyId, occurredAt: '2026-01-15T11:30:00.000Z' }),
    ]);
    await h.settled();

    const rows = await windowsOf(keyId);
    expect(rows.map(({ granularity, window_start, requests, allowed, forbidden, rate_limited, unauthorized }) => [
      granularity,
      window_start.toISOString(),
      { requests, allowed, forbidden, rate_limited, unauthorized },
    ])).toEqual([
      ['day', '2026-01-15T00:00:00.000Z', { requests: 6, allowed: 3, forbidden: 1, rate_limited: 1, unauthorized: 1 }],
      ['hour', '2026-01-15T10:00:00.000Z', { requests: 5, allowed: 2, forbidden: 1, rate_limited: 1, unauthorized: 1 }],
      ['hour', '2026-01-15T11:00:00.000Z', { requests: 1, allowed: 1, forbidden: 0, rate_limited: 0, unauthorized: 0 }],
    ]);
  });

  it('counts an event once however often it arrives', async () => {
    const keyId = keyIdOf('twice');
    const event = usageEvent({ keyId, occurredAt: '2026-01-15T12:00:00.000Z' });
    // Different msg ids get past JetStream's duplicate window: only the event id can catch it.
    await h.publish([event], () => 'first');
    await h.publish([event], () => 'second');
    await h.publish([event, event], (e) => `${e.eventId}-${Math.random()}`);
    await h.settled();

    expect(await windowsOf(keyId)).toEqual([
      expect.objectContaining({ granularity: 'day', requests: 1, allowed: 1 }),
      expect.objectContaining({ granularity: 'hour', requests: 1, allowed: 1 }),
    ]);
    const stored = await h.db.selectFrom('usage_events').select('event_id').where('key_id', '=', keyId).execute();
    expect(stored).toEqual([{ event_id: event.eventId }]);
  });

  it('puts a late event in the window of its own time', async () => {
    const keyId = keyIdOf('late');
    await h.publish([usageEvent({ keyId, occurredAt: '2026-01-16T09:15:00.000Z' })]);
    await h.settled();
    await h.publish([usageEvent({ keyId, occurredAt: '2026-01-14T23:59:59.999Z', outcome: 'forbidden' })]);
    await h.settled();

    const rows = await windowsOf(keyId);
    expect(rows.map((row) => [row.granularity, row.window_start.toISOString(), row.requests, row.forbidden])).toEqual([
      ['day', '2026-01-14T00:00:00.000Z', 1, 1],
      ['day', '2026-01-16T00:00:00.000Z', 1, 0],
      ['hour', '2026-01-14T23:00:00.000Z', 1, 1],
      ['hour', '2026-01-16T09:00:00.000Z', 1, 0],
    ]);
  });

  it('stores events of unknown keys without giving them windows', async () => {
    const event = usageEvent({ keyId: null, outcome: 'unauthorized', reason: 'unknown_key', clientIp: '192.0.2.44', occurredAt: '2026-01-15T13:00:00.000Z' });
    await h.publish([event]);
    await h.settled();

    const stored = await h.db.selectFrom('usage_events').selectAll().where('event_id', '=', event.eventId).executeTakeFirstOrThrow();
    expect(stored).toMatchObject({ key_id: null, outcome: 'unauthorized', reason: 'unknown_key', client_ip: '192.0.2.44' });
    expect(await h.db.selectFrom('usage_windows').selectAll().where('window_start', '=', new Date('2026-01-15T13:00:00.000Z')).execute()).toEqual([]);
  });

  it('keeps the latest request time per key whatever the arrival order', async () => {
    const keyId = keyIdOf('lastused');
    await h.publish([usageEvent({ keyId, occurredAt: '2026-01-15T10:00:00.000Z' }), usageEvent({ keyId, occurredAt: '2026-01-15T10:30:00.000Z' })]);
    await h.settled();
    await h.publish([usageEvent({ keyId, occurredAt: '2026-01-15T09:00:00.000Z' })]);
    await h.settled();

    expect(await h.ask(h.ns.subjects.metering.lastUsed, { accountId: 'acc_test', keyIds: [keyId] })).toEqual({
      ok: true,
      value: { [keyId]: '2026-01-15T10:30:00.000Z' },
    });
  });

  it('serves metrics of what it ingested', async () => {
    const response = await fetch(`${h.service?.url}/metrics`);
    const text = await response.text();
    expect(response.status).toBe(200);
    expect(text).toMatch(/metering_events_ingested_total\{result="stored",service="metering"\} \d+/);
    expect(text).toMatch(/metering_consumer_pending\{service="metering"\} 0/);
    expect(text).toContain('metering_ingest_batch_duration_seconds_bucket');
  });

  it('is ready once connected and consuming', async () => {
    const response = await fetch(`${h.service?.url}/readyz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ready', checks: { nats: true, postgres: true, 'usage-consumer': true } });
  });

  it('keeps the usage stream to USAGE_STREAM_MAX_AGE_HOURS, a week unless set, without touching its events', async () => {
    const jsm = await jetstreamManager(h.nc);
    const stream = () => jsm.streams.info(h.ns.streams.usageEvents);
    // The harness made the stream as an older version did, with no limit, before metering first started.
    expect((await stream()).config.max_age).toBe(168 * 3600e9);
    const before = (await stream()).state.messages;

    await h.stop();
    await h.start({ USAGE_STREAM_MAX_AGE_HOURS: '24' });

    expect((await stream()).config.max_age).toBe(24 * 3600e9);
    expect((await stream()).state.messages).toBe(before);
    await h.stop();
    await h.start();
    expect((await stream()).config.max_age).toBe(168 * 3600e9);
  });

  it('stores a backlog of several batches to its last event without waiting for more traffic', async () => {
    const keyId = keyIdOf('backlog');
    const start = Date.parse('2026-01-18T08:00:00.000Z');
    await h.stop();
    await h.publish(Array.from({ length: 1700 }, (_, index) => usageEvent({ keyId, occurredAt: new Date(start + index * 1000).toISOString() })));
    // The production ack wait: the tail of a backlog once sat unprocessed until it ran out and the server redelivered it.
    await h.start({ INGEST_ACK_WAIT_MS: '30000' });
    await h.settled(10_000);

    const days = await h.db.selectFrom('usage_windows').select('requests').where('key_id', '=', keyId).where('granularity', '=', 'day').execute();
    expect(days).toEqual([{ requests: 1700 }]);
  });

  it('hands a batch back when Postgres fails it, and counts it once when Postgres is back', async () => {
    const keyId = keyIdOf('retried');
    // A missing table fails the batch the way a lost database would, without taking the database away.
    await sql`ALTER TABLE metering.usage_windows RENAME TO usage_windows_away`.execute(h.db);
    try {
      await h.publish([usageEvent({ keyId, occurredAt: '2026-01-17T08:00:00.000Z' })]);
      await waitFor('a failed batch', () => h.logs.text().includes('storing a usage batch failed; it will be redelivered'));
    } finally {
      await sql`ALTER TABLE metering.usage_windows_away RENAME TO usage_windows`.execute(h.db);
    }
    await h.settled();

    expect(await windowsOf(keyId)).toEqual([
      expect.objectContaining({ granularity: 'day', requests: 1 }),
      expect.objectContaining({ granularity: 'hour', requests: 1 }),
    ]);
    const metrics = await (await fetch(`${h.service?.url}/metrics`)).text();
    expect(metrics).toMatch(/metering_ingest_batch_retries_total\{service="metering"\} [1-9]/);
  });

  it('deletes usage events past retention and keeps their windows', async () => {
    const keyId = keyIdOf('retention');
    const recent = usageEvent({ keyId, occurredAt: new Date(Date.now() - 86_400_000).toISOString() });
    const old = usageEvent({ keyId, occurredAt: new Date(Date.now() - 10 * 86_400_000).toISOString() });
    await h.publish([recent, old]);
    await h.settled();
    await h.stop();
    await h.start({ USAGE_RETENTION_DAYS: '7', USAGE_RETENTION_SWEEP_MS: '1000' });

    await waitFor('the sweep', async () => {
      const left = await h.db.selectFrom('usage_events').select('event_id').where('key_id', '=', keyId).execute();
      return left.length === 1 && left[0].event_id === recent.eventId;
    });
    const days = await h.db.selectFrom('usage_windows').select('requests').where('key_id', '=', keyId).where('granularity', '=', 'day').execute();
    expect(days).toEqual([{ requests: 1 }, { requests: 1 }]);
  });
});
