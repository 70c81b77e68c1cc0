import { createLogger, createMetricsRegistry } from '@keyplane/observability';
import { CapturedLogs } from '@keyplane/testing';
import { UsageSpillDrain, type UsageSpillDrainOptions } from './usage-spill-drain.js';
import type { DrainedMessages } from './usage-spill-store.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function waitUntil(condition: () => boolean) {
  while (!condition()) await sleep(1);
}

/** A spill table double: `waiting` messages of one event each, taken `limit` a pass, while the stream is not `refusing`. */
function table(waiting: number, limit = 64) {
  const state = { waiting, refusing: false, passes: 0 };
  const drain = async (): Promise<DrainedMessages> => {
    state.passes++;
    await sleep(1);
    if (state.refusing && state.waiting > 0) throw new Error('the stream refused the message: maximum messages exceeded (10077)');
    const messages = Math.min(limit, state.waiting);
    state.waiting -= messages;
    return { messages, events: messages, refused: 0 };
  };
  return { drain, state };
}

function drainer(drain: UsageSpillDrainOptions['drain'], options: Partial<UsageSpillDrainOptions> = {}) {
  const logs = new CapturedLogs();
  const registry = createMetricsRegistry('auth');
  const loop = new UsageSpillDrain({
    drain,
    waitingEvents: async () => 0,
    logger: createLogger('auth', { destination: logs }),
    registry,
    pollMs: 60_000,
    retryInitialMs: 5,
    retryMaxMs: 20,
    ...options,
  });
  const metric = async (name: string) => (await registry.getSingleMetric(name)!.get()).values[0]!.value;
  return { loop, logs, metric };
}

describe('UsageSpillDrain', () => {
  let running: UsageSpillDrain | undefined;
  afterEach(() => running?.stop());

  it('drains pass after pass until the table is empty, then waits for the poll or a wake', async () => {
    const spill = table(200);
    const { loop, metric, logs } = drainer(spill.drain);
    running = loop;
    loop.start();
    await waitUntil(() => spill.state.waiting === 0 && spill.state.passes === 5);
    expect(await metric('auth_usage_events_drained_total')).toBe(200);
    await waitUntil(() => logs.text().includes('published every spilled usage event'));
    spill.state.waiting = 10;
    loop.wake();
    // One pass takes the ten, the next finds the table empty.
    await waitUntil(() => spill.state.passes === 7);
    expect(spill.state.waiting).toBe(0);
  });

  it('polls the table when nobody wakes it, for what a replica that died spilled', async () => {
    const spill = table(0);
    const { loop } = drainer(spill.drain, { pollMs: 10 });
    running = loop;
    loop.start();
    await waitUntil(() => spill.state.passes >= 1);
    spill.state.waiting = 3;
    await waitUntil(() => spill.state.waiting === 0);
  });

  it('backs off while the stream refuses, however often a spill wakes it, and logs once each way', async () => {
    const spill = table(5);
    spill.state.refusing = true;
    const { loop, logs } = drainer(spill.drain, { retryInitialMs: 10, retryMaxMs: 40 });
    running = loop;
    loop.start();
    const started = Date.now();
    while (Date.now() - started < 150) {
      loop.wake();
      await sleep(1);
    }
    // 10, 20, 40, 40 ... ms apart: about 5 passes in 150 ms, not one per wake.
    expect(spill.state.passes).toBeGreaterThanOrEqual(2);
    expect(spill.state.passes).toBeLessThanOrEqual(7);
    spill.state.refusing = false;
    await waitUntil(() => spill.state.waiting === 0);
    await waitUntil(() => logs.text().includes('published every spilled usage event'));
    expect(logs.lines.filter((line) => line.includes('cannot publish spilled usage events yet'))).toHaveLength(1);
    expect(logs.lines.filter((line) => line.includes('spilled usage events are being published again'))).toHaveLength(1);
  });

  it('backs off when the stream takes some messages of a pass and refuses others, counting those it took', async () => {
    let passes = 0;
    const { loop, metric, logs } = drainer(async () => (++passes === 1 ? { messages: 2, events: 7, refused: 3 } : { messages: 0, events: 0, refused: 0 }));
    running = loop;
    loop.start();
    await waitUntil(() => passes >= 2);
    expect(await metric('auth_usage_events_drained_total')).toBe(7);
    expect(logs.text()).toContain('the usage stream refused 3 of 5 spilled messages');
  });

  it('stops between passes without waiting out the poll', async () => {
    const spill = table(0);
    const { loop } = drainer(spill.drain, { pollMs: 600_000 });
    loop.start();
    await waitUntil(() => spill.state.passes === 1);
    await loop.stop();
    expect(spill.state.passes).toBe(1);
  });
});
