import { Registry } from 'prom-client';
import { createMeteringMetrics } from './metering-metrics.js';

describe('consumer lag gauges', () => {
  it('read NaN while the lag is unknown, never the last value, which could say "caught up"', async () => {
    let answer: () => Promise<{ pending: number; ackPending: number } | undefined> = async () => ({ pending: 7, ackPending: 2 });
    const registry = new Registry();
    createMeteringMetrics(registry, { pending: () => answer() });
    const read = async () => (await registry.metrics()).split('\n').filter((line) => line.startsWith('metering_consumer_'));

    expect(await read()).toEqual(['metering_consumer_pending 7', 'metering_consumer_ack_pending 2']);
    answer = () => Promise.reject(new Error('NATS away'));
    expect(await read()).toEqual(['metering_consumer_pending Nan', 'metering_consumer_ack_pending Nan']);
    answer = async () => undefined;
    expect(await read()).toEqual(['metering_consumer_pending Nan', 'metering_consumer_ack_pending Nan']);
  });
});
