import type { UsageRecorded } from '@keyplane/contracts';
import { createLogger, createMetricsRegistry } from '@keyplane/observability';
import { CapturedLogs } from '@keyplane/testing';
import { UsagePublisher, type UsageMessage, type UsagePublisherOptions } from './usage-publisher.js';

const event = (n: number) => ({ eventId: `e${n}` }) as UsageRecorded;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function waitUntil(condition: () => boolean) {
  while (!condition()) await sleep(1);
}

/** A broker double: stores what it acknowledges, fails while `down`, answers after `latencyMs`; keeps every message tried. */
function broker(latencyMs = 1) {
  const stored: string[] = [];
  const tried: string[][] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const state = { down: false };
  const sizes: number[] = [];
  const publish = async ({ events, body }: UsageMessage) => {
    // What reaches the broker is the body: it must be the batch of exactly these events.
    const sent = JSON.parse(new TextDecoder().decode(body)) as { type: string; version: number; events: UsageRecorded[] };
    expect(sent).toEqual({ type: 'UsageBatch', version: 1, events: [...events] });
    const ids = sent.events.map((e) => e.eventId);
    tried.push(ids);
    sizes.push(body.length);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await sleep(latencyMs);
    inFlight--;
    if (state.down) throw new Error('no responders');
    stored.push(...ids);
  };
  return { publish, stored, tried, sizes, state, stats: () => ({ attempts: tried.length, maxInFlight }) };
}

/** A Postgres double for the spill: keeps the ids of what it commits, refuses while `down`, never answers while `hung`. */
function postgres(latencyMs = 1) {
  const state = { down: false, hung: false };
  const spills: string[][][] = [];
  const stored = new Map<string, string[]>();
  const spill = async (messages: readonly UsageMessage[]) => {
    const ids = messages.map(({ events, body }) => {
      const sent = JSON.parse(new TextDecoder().decode(body)) as { events: UsageRecorded[] };
      expect(sent.events.map((e) => e.eventId)).toEqual(events.map((e) => e.eventId));
      return events.map((e) => e.eventId);
    });
    spills.push(ids);
    await sleep(latencyMs);
    if (state.hung) await new Promise(() => undefined);
    if (state.down) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
    // As the table's unique message id does: the same message spilled twice is stored once.
    for (const message of ids) stored.set(message.join(), message);
  };
  return { spill, spills, state, stored: () => [...stored.values()].flat(), messages: () => [...stored.values()] };
}

/** Postgres refuses spills unless a test brings its own: the failure tests then show what is held in memory. */
const refusingSpill: UsagePublisherOptions['spill'] = async () => {
  throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
};

function publisher(publish: UsagePublisherOptions['publish'], options: Partial<UsagePublisherOptions> = {}) {
  const logs = new CapturedLogs();
  const registry = createMetricsRegistry('auth');
  const usage = new UsagePublisher({
    publish,
    spill: refusingSpill,
    logger: createLogger('auth', { destination: logs }),
    registry,
    retryInitialMs: 5,
    retryMaxMs: 20,
    ...options,
  });
  const metric = async (name: string) => (await registry.getSingleMetric(name)!.get()).values[0]!.value;
  return { usage, logs, metric };
}

describe('UsagePublisher', () => {
  it('queues on record and publishes on a later turn, what one turn recorded in one message', async () => {
    const nats = broker();
    const { usage } = publisher(nats.publish);
    usage.record(event(1));
    usage.record(event(2));
    expect(nats.stats().attempts).toBe(0);
    expect(usage.pending).toBe(2);
    expect(await usage.flush(1000)).toBe(0);
    expect(nats.tried).toEqual([['e1', 'e2']]);
    expect(nats.stored).toEqual(['e1', 'e2']);
  });

  it('publishes events of later turns without waiting for the messages before them', async () => {
    const nats = broker(20);
    const { usage } = publisher(nats.publish);
    usage.record(event(1));
    await new Promise((resolve) => setImmediate(resolve));
    usage.record(event(2));
    await new Promise((resolve) => setImmediate(resolve));
    expect(nats.tried).toEqual([['e1'], ['e2']]);
    expect(await usage.flush(1000)).toBe(0);
  });

  it('puts at most `maxBatch` events in a message and keeps at most `concurrency` messages awaiting the broker', async () => {
    const nats = broker(3);
    const { usage } = publisher(nats.publish, { concurrency: 4, maxBatch: 3 });
    for (let n = 0; n < 40; n++) usage.record(event(n));
    await usage.flush(2000);
    expect(nats.stored).toEqual(Array.from({ length: 40 }, (_, n) => `e${n}`));
    expect(nats.tried.map((ids) => ids.length)).toEqual([...Array(13).fill(3), 1]);
    expect(nats.stats().maxInFlight).toBe(4);
  });

  it('keeps a message under `maxBatchBytes`, and sends an event larger than that alone', async () => {
    const nats = broker();
    const { usage } = publisher(nats.publish, { maxBatchBytes: 1000 });
    const sized = (n: number, length: number) => ({ eventId: `e${n}`, path: 'x'.repeat(length) }) as UsageRecorded;
    for (let n = 0; n < 6; n++) usage.record(sized(n, 300));
    usage.record(sized(6, 2000));
    usage.record(sized(7, 10));
    expect(await usage.flush(1000)).toBe(0);
    expect(nats.tried).toEqual([['e0', 'e1'], ['e2', 'e3'], ['e4', 'e5'], ['e6'], ['e7']]);
    expect(nats.sizes.filter((size) => size > 1000)).toEqual([nats.sizes[3]]);
  });

  it('sends a failed message again as it was, so it keeps its message id', async () => {
    const nats = broker();
    nats.state.down = true;
    const { usage } = publisher(nats.publish, { concurrency: 1, maxBatch: 2 });
    for (let n = 1; n <= 3; n++) usage.record(event(n));
    await waitUntil(() => nats.tried.length >= 2);
    usage.record(event(4));
    nats.state.down = false;
    expect(await usage.flush(1000)).toBe(0);
    expect(new Set(nats.tried.slice(0, -1).map((ids) => ids.join()))).toEqual(new Set(['e1,e2']));
    expect(nats.tried.at(-1)).toEqual(['e3', 'e4']);
    expect(nats.stored).toEqual(['e1', 'e2', 'e3', 'e4']);
  });

  it('retries failed publishes with backoff until the broker is back, losing nothing', async () => {
    const nats = broker();
    nats.state.down = true;
    const { usage, logs } = publisher(nats.publish);
    for (let n = 0; n < 10; n++) usage.record(event(n));
    await sleep(60);
    expect(usage.pending).toBe(10);
    nats.state.down = false;
    expect(await usage.flush(1000)).toBe(0);
    expect(new Set(nats.stored).size).toBe(10);
    expect(logs.text()).toContain('usage event publish failed; retrying');
    expect(logs.text()).toContain('usage events are being published again');
  });

  it('backs off: few attempts while the broker stays down', async () => {
    const nats = broker();
    nats.state.down = true;
    const { usage } = publisher(nats.publish, { concurrency: 1, retryInitialMs: 10, retryMaxMs: 40 });
    usage.record(event(1));
    await sleep(150);
    // 10, 20, 40, 40 ... ms apart: about 5 attempts in 150 ms, not one per millisecond.
    expect(nats.stats().attempts).toBeGreaterThanOrEqual(2);
    expect(nats.stats().attempts).toBeLessThanOrEqual(7);
    await usage.flush(0);
  });

  it('holds at most `capacity` events, dropping the oldest queued ones', async () => {
    const nats = broker();
    nats.state.down = true;
    const { usage, logs } = publisher(nats.publish, { capacity: 3, concurrency: 1 });
    for (let n = 1; n <= 6; n++) usage.record(event(n));
    expect(usage.pending).toBe(3);
    nats.state.down = false;
    await usage.flush(1000);
    expect(nats.stored.sort()).toEqual(['e4', 'e5', 'e6']);
    expect(logs.lines.filter((line) => line.includes('usage event queue full'))).toHaveLength(1);
  });

  it('when full, drops the oldest event of a failed message first', async () => {
    const nats = broker();
    nats.state.down = true;
    const { usage, logs } = publisher(nats.publish, { capacity: 3, concurrency: 1, maxBatch: 2 });
    usage.record(event(1));
    usage.record(event(2));
    await waitUntil(() => logs.text().includes('usage event publish failed; retrying'));
    usage.record(event(3));
    usage.record(event(4));
    expect(usage.pending).toBe(3);
    nats.state.down = false;
    expect(await usage.flush(1000)).toBe(0);
    expect(nats.stored).toEqual(['e2', 'e3', 'e4']);
  });

  it('reports what it could not publish before the flush timeout as lost', async () => {
    const nats = broker();
    nats.state.down = true;
    const { usage, logs } = publisher(nats.publish);
    for (let n = 0; n < 5; n++) usage.record(event(n));
    expect(await usage.flush(30)).toBe(5);
    expect(logs.text()).toContain('"lost":5');
  });
});

describe('UsagePublisher spilling to Postgres while the stream refuses', () => {
  it('writes nothing to Postgres while the stream takes every message', async () => {
    const nats = broker();
    const pg = postgres();
    const { usage } = publisher(nats.publish, { spill: pg.spill, maxBatch: 3 });
    for (let n = 0; n < 20; n++) {
      usage.record(event(n));
      if (n % 4 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await usage.flush(1000)).toBe(0);
    expect({ stored: nats.stored.length, spills: pg.spills }).toEqual({ stored: 20, spills: [] });
  });

  it('spills a refused message and what is queued behind it in one write, holding nothing in memory', async () => {
    const nats = broker();
    nats.state.down = true;
    const pg = postgres();
    const { usage, logs, metric } = publisher(nats.publish, { spill: pg.spill, concurrency: 1, maxBatch: 2, retryInitialMs: 10_000 });
    for (let n = 1; n <= 3; n++) usage.record(event(n));
    await waitUntil(() => pg.stored().length === 3);
    expect({ tried: nats.tried, spills: pg.spills, pending: usage.pending }).toEqual({ tried: [['e1', 'e2']], spills: [[['e1', 'e2'], ['e3']]], pending: 0 });
    expect({ messages: await metric('auth_usage_messages_spilled_total'), events: await metric('auth_usage_events_spilled_total') }).toEqual({ messages: 2, events: 3 });
    expect(logs.lines.filter((line) => line.includes('spilling usage events to Postgres'))).toHaveLength(1);
    await usage.flush(0);
  });

  it("until the retry, spills each turn's events instead of sending them to the stream or holding them", async () => {
    const nats = broker();
    nats.state.down = true;
    const pg = postgres();
    const { usage } = publisher(nats.publish, { spill: pg.spill, retryInitialMs: 10_000 });
    usage.record(event(1));
    await waitUntil(() => pg.stored().length === 1);
    usage.record(event(2));
    usage.record(event(3));
    expect(usage.pending).toBe(2);
    await waitUntil(() => usage.pending === 0);
    expect({ tried: nats.tried, spills: pg.spills }).toEqual({ tried: [['e1']], spills: [[['e1']], [['e2', 'e3']]] });
    await usage.flush(0);
  });

  it('tries the stream again after the backoff and, once it takes writes, publishes directly and spills no more', async () => {
    const nats = broker();
    nats.state.down = true;
    const pg = postgres();
    const { usage, logs } = publisher(nats.publish, { spill: pg.spill });
    usage.record(event(0));
    await waitUntil(() => pg.stored().length === 1);
    nats.state.down = false;
    let recorded = 1;
    while (nats.stored.length === 0) {
      usage.record(event(recorded++));
      await sleep(2);
    }
    const spills = pg.spills.length;
    for (let n = 0; n < 10; n++) usage.record(event(recorded++));
    expect(await usage.flush(1000)).toBe(0);
    expect(pg.spills.length).toBe(spills);
    // Every event once, on the stream or in Postgres.
    expect([...nats.stored, ...pg.stored()].sort()).toEqual(Array.from({ length: recorded }, (_, n) => `e${n}`).sort());
    expect(logs.lines.filter((line) => line.includes('usage events are being published again') && line.includes('"level":40'))).toHaveLength(1);
  });

  it('holds messages in memory while Postgres refuses them too, and spills them whole once it answers', async () => {
    const nats = broker();
    nats.state.down = true;
    const pg = postgres();
    pg.state.down = true;
    const { usage, logs, metric } = publisher(nats.publish, { spill: pg.spill, concurrency: 1, maxBatch: 2 });
    for (let n = 1; n <= 3; n++) usage.record(event(n));
    await waitUntil(() => logs.text().includes('cannot spill usage events to Postgres; holding them in memory'));
    expect(usage.pending).toBe(3);
    expect(await metric('auth_usage_spill_failures_total')).toBeGreaterThanOrEqual(1);
    pg.state.down = false;
    await waitUntil(() => usage.pending === 0);
    // The message the stream refused first is stored as it was tried, so it keeps its message id.
    expect(pg.messages().map((ids) => ids.join()).sort()).toEqual(['e1,e2', 'e3']);
    expect(nats.stored).toEqual([]);
    await usage.flush(0);
  });

  it('drops events beyond `capacity` only while Postgres refuses too', async () => {
    const nats = broker();
    nats.state.down = true;
    const pg = postgres();
    const { usage, metric } = publisher(nats.publish, { spill: pg.spill, capacity: 3 });
    for (let n = 0; n < 10; n++) {
      usage.record(event(n));
      usage.record(event(n + 100));
      await waitUntil(() => usage.pending === 0);
    }
    expect({ spilled: pg.stored().length, dropped: await metric('auth_usage_events_dropped_total') }).toEqual({ spilled: 20, dropped: 0 });
    await usage.flush(0);
  });

  it('counts a spill Postgres does not answer within `spillTimeoutMs` as refused, and publishes its events once the stream is back', async () => {
    const nats = broker();
    nats.state.down = true;
    const pg = postgres();
    pg.state.hung = true;
    const { usage, metric } = publisher(nats.publish, { spill: pg.spill, spillTimeoutMs: 20 });
    usage.record(event(1));
    usage.record(event(2));
    await waitUntil(() => pg.spills.length > 0);
    expect(usage.pending).toBe(2);
    while ((await metric('auth_usage_spill_failures_total')) === 0) await sleep(5);
    nats.state.down = false;
    expect(await usage.flush(1000)).toBe(0);
    expect(nats.stored.sort()).toEqual(['e1', 'e2']);
  });

  it('returns from flush as soon as everything refused is spilled', async () => {
    const nats = broker();
    nats.state.down = true;
    const pg = postgres();
    const { usage } = publisher(nats.publish, { spill: pg.spill });
    for (let n = 0; n < 5; n++) usage.record(event(n));
    // Far beyond Jest's timeout: it returns because nothing is left, not because time ran out.
    expect(await usage.flush(600_000)).toBe(0);
    expect(pg.stored().sort()).toEqual(['e0', 'e1', 'e2', 'e3', 'e4']);
  });

  it('on flush, spills what it could not publish before the timeout, messages awaiting the broker included, instead of losing it', async () => {
    const tried: string[] = [];
    const unanswered = async ({ events }: UsageMessage) => {
      tried.push(...events.map((e) => e.eventId));
      await new Promise(() => undefined);
    };
    const pg = postgres();
    const { usage, logs, metric } = publisher(unanswered, { spill: pg.spill, concurrency: 1, maxBatch: 2 });
    for (let n = 0; n < 5; n++) usage.record(event(n));
    await waitUntil(() => tried.length > 0);
    expect(await usage.flush(30)).toBe(0);
    expect(pg.stored().sort()).toEqual(['e0', 'e1', 'e2', 'e3', 'e4']);
    expect(await metric('auth_usage_events_spilled_total')).toBe(5);
    expect(logs.text()).toContain('spilled to Postgres for another replica to publish');
    expect(logs.text()).not.toContain('they are lost');
  });
});
