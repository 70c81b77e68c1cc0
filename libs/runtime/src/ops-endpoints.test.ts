import { Module } from '@nestjs/common';
import { Counter } from 'prom-client';
import { createLogger, createMetricsRegistry, OpsModule, Readiness } from '@keyplane/observability';
import { bootstrapService, type ServiceHandle } from './bootstrap.js';

const readiness = new Readiness();
const registry = createMetricsRegistry('ops-test');
let caughtUp = false;
readiness.add('nats', () => true);
readiness.add('caught-up', () => caughtUp);
new Counter({ name: 'ops_test_requests_total', help: 'Requests seen by the ops test', registers: [registry] }).inc(2);

@Module({ imports: [OpsModule.forRoot(readiness, registry)] })
class ProbeModule {}

let service: ServiceHandle;

beforeAll(async () => {
  service = await bootstrapService({
    module: ProbeModule,
    config: { natsUrl: 'nats://127.0.0.1:4222', natsPrefix: '', httpPort: 0, httpHost: '127.0.0.1', logLevel: 'silent' },
    logger: createLogger('ops-test', { level: 'silent' }),
  });
});

afterAll(async () => {
  await service?.close();
});

describe('OpsModule over HTTP', () => {
  it('answers /healthz with 200 {"status":"ok"}', async () => {
    const response = await fetch(`${service.url}/healthz`);

    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('answers /readyz with 503 naming the failing check, then 200 once it passes', async () => {
    caughtUp = false;
    const notReady = await fetch(`${service.url}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ status: 'not ready', checks: { nats: true, 'caught-up': false } });

    caughtUp = true;
    const ready = await fetch(`${service.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { nats: true, 'caught-up': true } });
  });

  it('answers /readyz with 503, not an error, when a check throws', async () => {
    caughtUp = true;
    readiness.add('database', () => {
      throw new Error('pool destroyed');
    });
    const notReady = await fetch(`${service.url}/readyz`);
    readiness.add('database', () => true);

    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ status: 'not ready', checks: { nats: true, 'caught-up': true, database: false } });
  });

  it('answers /metrics with the registry in Prometheus text format', async () => {
    const response = await fetch(`${service.url}/metrics`);

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await response.text();
    expect(text).toContain('# TYPE ops_test_requests_total counter');
    expect(text).toContain('ops_test_requests_total{service="ops-test"} 2');
    expect(text).toMatch(/^process_cpu_user_seconds_total\{service="ops-test"\} \d/m);
  });
});
