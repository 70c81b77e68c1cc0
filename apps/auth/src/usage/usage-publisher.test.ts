import type { UsageRecorded } from '@keyplane/contracts';
import { createLogger, createMetricsRegistry } from '@keyplane/observability';
import { CapturedLogs } from '@keyplane/testing';
import { UsagePublisher, type UsagePublisherOptions } from './usage-publisher.js';

const event = (n: number) => ({ eventId: `e${n}` }) as UsageRecorded;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A broker double: stores what it acknowledges, fails while `down`, answers after `latencyMs`. */
function broker(latencyMs = 1) {
  const stored: string[] = [];
  let attempts = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const state = { down: false };
  const publish = async (e: UsageRecorded) => {
    attempts++;
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await sleep(latencyMs);
    inFlight--;
    if (state.down) throw new Error('no responders');
    stored.push(e.eventId);
  };
  return { publish, stored, state, stats: () => ({ attempts, maxInFlight }) };
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
  it('queues on record and publishes on a later turn, once per event', async () => {
    const nats = broker();
    const { usage } = publisher(nats.publish);
    usage.record(event(1));
    usage.record(event(2));
    expect(nats.stats().attempts).toBe(0);
    expect(usage.pending).toBe(2);
    expect(await usage.flush(1000)).toBe(0);
    expect(nats.stored.sort()).toEqual(['e1', 'e2']);
    expect(nats.stats().attempts).toBe(2);
  });

  it('keeps at most `concurrency` publishes awaiting the broker', async () => {
    const nats = broker(3);
    const { usage } = publisher(nats.publish, { concurrency: 4 });
    for (let n = 0; n < 40; n++) usage.record(event(n));
    await usage.flush(2000);
    expect(nats.stored).toHaveLength(40);
    expect(nats.stats().maxInFlight).toBe(4);
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

  it('reports what it could not publish before the flush timeout as lost', async () => {
    const nats = broker();
    nats.state.down = true;
    const { usage, logs } = publisher(nats.publish);
    for (let n = 0; n < 5; n++) usage.record(event(n));
    expect(await usage.flush(30)).toBe(5);
    expect(logs.text()).toContain('"lost":5');
  });
});
