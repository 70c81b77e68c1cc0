import { keyIdOf, usageEvent, waitFor } from '@keyplane/testing';
import { MeteringHarness } from './support/metering-harness.js';

/** The count and sum of the batch-size histogram on /metrics. */
async function batches(url: string): Promise<{ count: number; events: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const read = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return { count: read('metering_ingest_batch_size_count'), events: read('metering_ingest_batch_size_sum') };
}

describe('metering ingest linger', () => {
  let h: MeteringHarness;

  afterEach(async () => {
    await h?.close();
  });

  it('stores events that trickle in within the linger as one batch', async () => {
    h = await MeteringHarness.create('linger', { INGEST_LINGER_MS: '1000' });
    const service = await h.start();
    const keyId = keyIdOf('trickle');
    for (let minute = 1; minute <= 5; minute++) {
      await h.publish([usageEvent({ keyId, occurredAt: `2026-01-15T10:0${minute}:00.000Z` })]);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await h.settled();
    expect(await waitFor('the batch to be counted', async () => ((await batches(service.url)).count > 0 ? batches(service.url) : null))).toEqual({ count: 1, events: 5 });
  });

  it('stores each event on its own without a linger', async () => {
    h = await MeteringHarness.create('no_linger', { INGEST_LINGER_MS: '0' });
    const service = await h.start();
    const keyId = keyIdOf('single');
    for (let minute = 1; minute <= 3; minute++) {
      await h.publish([usageEvent({ keyId, occurredAt: `2026-01-15T10:0${minute}:00.000Z` })]);
      await waitFor('the event to be stored', async () => (await batches(service.url)).events === minute);
    }
    expect(await batches(service.url)).toEqual({ count: 3, events: 3 });
  });
});
