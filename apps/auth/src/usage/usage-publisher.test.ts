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

function publisher(publish: UsagePublisherOptions['publish'], options: Partial<UsagePublisherOptions> = {}) {
  const logs = new CapturedLogs();
  const usage = new UsagePublisher({
    publish,
    logger: createLogger('auth', { destination: logs }),
    registry: createMetricsRegistry('auth'),
    retryInitialMs: 5,
    retryMaxMs: 20,
    ...options,
  });
  return { usage, logs };
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
