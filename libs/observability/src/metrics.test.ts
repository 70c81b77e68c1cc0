import { Counter } from 'prom-client';
import { createMetricsRegistry } from './metrics.js';

describe('createMetricsRegistry', () => {
  it('labels default process metrics with the service', async () => {
    const text = await createMetricsRegistry('metering').metrics();

    expect(text).toMatch(/^process_cpu_user_seconds_total\{service="metering"\} \d/m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes\{service="metering"\} \d/m);
  });

  it('labels a service metric registered on it, and keeps registries apart', async () => {
    const keys = createMetricsRegistry('keys');
    const auth = createMetricsRegistry('auth');
    new Counter({ name: 'keys_issued_total', help: 'Keys issued', registers: [keys] }).inc(3);

    expect(await keys.metrics()).toContain('keys_issued_total{service="keys"} 3');
    expect(await auth.metrics()).not.toContain('keys_issued_total');
  });
});
