import { jetstreamManager } from '@nats-io/jetstream';
import type { Outcome, UsageRecorded } from '@keyplane/contracts';
import { keyIdOf, usageEvent, waitFor } from '@keyplane/testing';
import { DURABLE_NAME } from '../src/ingest/usage-consumer.js';
import { MeteringHarness } from './support/metering-harness.js';

const OUTCOMES: Outcome[] = ['allowed', 'allowed', 'allowed', 'forbidden', 'rate_limited', 'unauthorized'];
const KEYS = ['recon-a', 'recon-b', 'recon-c', 'recon-d'].map(keyIdOf);

/** A deterministic mix over four keys, two days and every outcome; quiet enough to raise no alert worth counting. */
function traffic(count: number): UsageRecorded[] {
  const start = Date.parse('2026-02-01T00:00:00.000Z');
  return Array.from({ length: count }, (_, index) =>
    usageEvent({
      keyId: KEYS[index % KEYS.length],
      outcome: OUTCOMES[index % OUTCOMES.length],
      occurredAt: new Date(start + index * 47_000).toISOString(),
    }),
  );
}

function expectedTotals(events: readonly UsageRecorded[]) {
  const totals = new Map<string, { requests: number; allowed: number; forbidden: number; rate_limited: number; unauthorized: number }>();
  for (const event of events) {
    for (const [granularity, length] of [
      ['hour', 3_600_000],
      ['day', 86_400_000],
    ] as const) {
      const start = new Date(Math.floor(Date.parse(event.occurredAt) / length) * length).toISOString();
      const id = `${event.keyId}|${granularity}|${start}`;
      const total = totals.get(id) ?? { requests: 0, allowed: 0, forbidden: 0, rate_limited: 0, unauthorized: 0 };
      total.requests += 1;
      total[event.outcome] += 1;
      totals.set(id, total);
    }
  }
  return Object.fromEntries([...totals].sort(([a], [b]) => (a < b ? -1 : 1)));
}

async function storedTotals(h: MeteringHarness) {
  const rows = await h.db.selectFrom('usage_windows').selectAll().orderBy('key_id').orderBy('granularity').orderBy('window_start').execute();
  return Object.fromEntries(
    rows
      .map((row) => [
        `${row.key_id}|${row.granularity}|${row.window_start.toISOString()}`,
        { requests: row.requests, allowed: row.allowed, forbidden: row.forbidden, rate_limited: row.rate_limited, unauthorized: row.unauthorized },
      ] as const)
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  );
}

describe('metering reconciliation', () => {
  let h: MeteringHarness;
  const events = traffic(3000);

  beforeAll(async () => {
    h = await MeteringHarness.create('recon', { INGEST_BATCH_SIZE: '100' });
    await h.start();
  });

  afterAll(async () => {
    await h.close();
  });

  it('ends with window totals equal to what was published, across a restart in the middle', async () => {
    const publishing = h.publish(events);
    await waitFor('part of the traffic to be stored', async () => {
      const row = await h.db.selectFrom('usage_events').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      return Number(row.n) >= 500;
    }, 15000);
    await h.stop();
    await publishing;
    const stored = await h.db.selectFrom('usage_events').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    expect(Number(stored.n)).toBeLessThan(events.length);

    await h.start();
    await h.settled(30000);

    expect(await storedTotals(h)).toEqual(expectedTotals(events));
  });

  it('counts nothing twice when the whole stream is delivered again', async () => {
    // A lost consumer (or a crash between commit and ack) means every event comes again.
    await h.stop();
    const jsm = await jetstreamManager(h.nc);
    await jsm.consumers.delete(h.ns.streams.usageEvents, DURABLE_NAME);
    await h.start();
    await h.settled(30000);

    expect(await storedTotals(h)).toEqual(expectedTotals(events));
    const metrics = await (await fetch(`${h.service?.url}/metrics`)).text();
    expect(metrics).toContain('metering_events_ingested_total{result="stored",service="metering"} 0');
    // At least every event once; nats-server 2.9 may redeliver a few acked ones after the ack wait, which changes nothing either.
    const duplicates = Number(/metering_events_ingested_total\{result="duplicate",service="metering"\} (\d+)/.exec(metrics)?.[1]);
    expect(duplicates).toBeGreaterThanOrEqual(events.length);
  });
});
