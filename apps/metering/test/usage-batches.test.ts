import { jetstreamManager } from '@nats-io/jetstream';
import type { Msg } from '@nats-io/transport-node';
import { usageBatch } from '@keyplane/contracts';
import { keyIdOf, usageEvent, waitFor } from '@keyplane/testing';
import { DURABLE_NAME } from '../src/ingest/usage-consumer.js';
import { MeteringHarness } from './support/metering-harness.js';

// Auth publishes `UsageBatch` messages; a small INGEST_BATCH_SIZE makes metering's own batches
// end in the middle of the traffic, never in the middle of a message.
describe('metering ingest of UsageBatch messages', () => {
  let h: MeteringHarness;
  const deadLetters: Msg[] = [];

  beforeAll(async () => {
    h = await MeteringHarness.create('batches', { INGEST_BATCH_SIZE: '7' });
    h.nc.subscribe(h.ns.subjects.usageDeadLetter, { callback: (_error, msg) => void deadLetters.push(msg) });
    await h.nc.flush();
    await h.start();
  });

  afterAll(async () => {
    await h.close();
  });

  const windowsOf = async (keyId: string) =>
    (await h.db.selectFrom('usage_windows').selectAll().where('key_id', '=', keyId).orderBy('granularity').execute()).map(
      ({ granularity, window_start, requests, allowed, forbidden }) => ({ granularity, window_start: window_start.toISOString(), requests, allowed, forbidden }),
    );

  it('counts every event of every message, batched and bare alike, each once', async () => {
    const keyId = keyIdOf('batched');
    const at = (minute: number) => `2026-04-02T10:${String(minute).padStart(2, '0')}:00.000Z`;
    const events = Array.from({ length: 40 }, (_, n) => usageEvent({ keyId, occurredAt: at(n), ...(n % 4 === 0 ? { outcome: 'forbidden', reason: 'missing_permission' } : {}) }));
    await h.publishBatches(events.slice(0, 30), 5);
    await h.publishBatches(events.slice(30, 33), 3);
    await h.publish(events.slice(33));
    // The same events again in other messages: JetStream stores them, the event ids catch them.
    await h.publishRaw(JSON.stringify(usageBatch(events.slice(10, 20))));
    await h.settled();

    expect(await windowsOf(keyId)).toEqual([
      { granularity: 'day', window_start: '2026-04-02T00:00:00.000Z', requests: 40, allowed: 30, forbidden: 10 },
      { granularity: 'hour', window_start: '2026-04-02T10:00:00.000Z', requests: 40, allowed: 30, forbidden: 10 },
    ]);
    const stored = await h.db.selectFrom('usage_events').select('event_id').where('key_id', '=', keyId).orderBy('event_id').execute();
    expect(stored.map(({ event_id }) => event_id)).toEqual(events.map(({ eventId }) => eventId).sort());
    const metrics = await (await fetch(`${h.service?.url}/metrics`)).text();
    expect(metrics).toContain('metering_events_ingested_total{result="stored",service="metering"} 40');
    expect(metrics).toContain('metering_events_ingested_total{result="duplicate",service="metering"} 10');
  });

  it('sets aside only the bad events of a batch, each with its position, and counts the rest', async () => {
    const keyId = keyIdOf('mixed');
    const good = [0, 1, 2].map((n) => usageEvent({ keyId, occurredAt: `2026-04-02T11:0${n}:00.000Z` }));
    const badOutcome = { ...usageEvent({ keyId }), outcome: 'maybe' };
    const newerVersion = { ...usageEvent({ keyId }), version: 2 };
    const seq = await h.publishRaw(JSON.stringify({ type: 'UsageBatch', version: 1, events: [good[0], badOutcome, good[1], newerVersion, good[2]] }));
    const wholeSeq = await h.publishRaw(JSON.stringify({ type: 'UsageBatch', version: 1, events: [] }));
    await h.settled();

    expect(await windowsOf(keyId)).toEqual([
      { granularity: 'day', window_start: '2026-04-02T00:00:00.000Z', requests: 3, allowed: 3, forbidden: 0 },
      { granularity: 'hour', window_start: '2026-04-02T11:00:00.000Z', requests: 3, allowed: 3, forbidden: 0 },
    ]);
    const rows = await h.db
      .selectFrom('dead_letters')
      .select(['stream_seq', 'batch_position', 'raw_payload', 'reason', 'event_type', 'event_version'])
      .where('stream_seq', 'in', [seq, wholeSeq])
      .orderBy('stream_seq')
      .orderBy('batch_position')
      .execute();
    expect(rows).toEqual([
      {
        stream_seq: seq,
        batch_position: 1,
        raw_payload: JSON.stringify(badOutcome),
        reason: 'invalid UsageRecorded v1: outcome: Invalid option: expected one of "allowed"|"forbidden"|"rate_limited"|"unauthorized"',
        event_type: 'UsageRecorded',
        event_version: 1,
      },
      { stream_seq: seq, batch_position: 3, raw_payload: JSON.stringify(newerVersion), reason: 'unknown event type or version: UsageRecorded v2', event_type: 'UsageRecorded', event_version: 2 },
      {
        stream_seq: wholeSeq,
        batch_position: 0,
        raw_payload: '{"type":"UsageBatch","version":1,"events":[]}',
        reason: 'invalid UsageBatch v1: events: Too small: expected array to have >=1 items',
        event_type: 'UsageBatch',
        event_version: 1,
      },
    ]);

    await waitFor('the three dead letters on the dead-letter subject', () => deadLetters.length >= 3);
    expect(deadLetters.map((msg) => [Number(msg.headers?.get('Keyplane-Stream-Seq')), Number(msg.headers?.get('Keyplane-Batch-Position')), msg.string()])).toEqual([
      [seq, 1, JSON.stringify(badOutcome)],
      [seq, 3, JSON.stringify(newerVersion)],
      [wholeSeq, 0, '{"type":"UsageBatch","version":1,"events":[]}'],
    ]);
  });

  it('ends with the totals published across a restart in the middle and a full replay, and sets a bad event aside once', async () => {
    const keyId = keyIdOf('restart');
    const events = Array.from({ length: 600 }, (_, n) => usageEvent({ keyId, occurredAt: new Date(Date.parse('2026-04-03T00:00:00.000Z') + n * 60_000).toISOString() }));
    const bad = { ...usageEvent({ keyId }), hourUsed: 1.5 };
    const badSeq = await h.publishRaw(JSON.stringify(usageBatch([events[0], bad])));
    const publishing = h.publishBatches(events.slice(1), 20);
    await waitFor('part of the traffic to be stored', async () => {
      const row = await h.db.selectFrom('usage_events').select((eb) => eb.fn.countAll<number>().as('n')).where('key_id', '=', keyId).executeTakeFirstOrThrow();
      return Number(row.n) >= 50;
    });
    await h.stop();
    await publishing;
    await h.start();
    await h.settled(30000);
    // Everything once more, as after a lost consumer.
    await h.stop();
    await (await jetstreamManager(h.nc)).consumers.delete(h.ns.streams.usageEvents, DURABLE_NAME);
    await h.start();
    await h.settled(30000);

    const totals = await h.db
      .selectFrom('usage_windows')
      .select((eb) => eb.fn.sum<number>('requests').as('requests'))
      .where('key_id', '=', keyId)
      .where('granularity', '=', 'day')
      .executeTakeFirstOrThrow();
    expect(Number(totals.requests)).toBe(600);
    const setAside = await h.db.selectFrom('dead_letters').select('batch_position').where('stream_seq', '=', badSeq).execute();
    expect(setAside).toEqual([{ batch_position: 1 }]);
  });
});
