import { randomBytes } from 'node:crypto';
import { Body, Controller, Get, Inject, Module, Post, type DynamicModule } from '@nestjs/common';
import { ClientProxyFactory, MessagePattern, Payload, Transport, type ClientProxy } from '@nestjs/microservices';
import { ok } from '@keyplane/contracts';
import { request } from '@keyplane/nats';
import { createLogger, LogLines } from '@keyplane/observability';
import type { Server } from 'node:http';
import { bootstrapService, connectionsCheckingIntervalMs, type ServiceHandle } from './bootstrap.js';

const NATS_URL = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
const REPLICA = Symbol('replica');

interface Replica {
  name: string;
  handled: number;
}

@Controller()
class PingController {
  constructor(@Inject(REPLICA) private readonly replica: Replica) {}

  @MessagePattern('ping')
  ping(@Payload() payload: { n: number }) {
    this.replica.handled += 1;
    return ok({ pong: payload.n, replica: this.replica.name });
  }

  @Get('hello')
  hello() {
    return { replica: this.replica.name };
  }

  @Post('echo')
  echo(@Body() body: unknown) {
    return body;
  }
}

@Module({})
class PingModule {
  static forReplica(replica: Replica): DynamicModule {
    return { module: PingModule, controllers: [PingController], providers: [{ provide: REPLICA, useValue: replica }] };
  }
}

const freshPrefix = () => `t${randomBytes(5).toString('hex')}`;

function boot(replica: Replica, prefix: string, logs = new LogLines()): Promise<ServiceHandle> {
  return bootstrapService({
    module: PingModule.forReplica(replica),
    config: { natsUrl: NATS_URL, natsPrefix: prefix, httpPort: 0, httpHost: '127.0.0.1', logLevel: 'info' },
    logger: createLogger('runtime-test', { destination: logs }),
    queue: 'runtime-test',
    bodyLimitBytes: 1024,
  });
}

let client: ClientProxy;

beforeAll(async () => {
  client = ClientProxyFactory.create({ transport: Transport.NATS, options: { servers: NATS_URL } });
  await client.connect();
});

afterAll(async () => {
  await client?.close();
});

describe('bootstrapService', () => {
  const prefix = freshPrefix();
  const a: Replica = { name: 'a', handled: 0 };
  const b: Replica = { name: 'b', handled: 0 };
  const logs = new LogLines();
  let first: ServiceHandle;
  let second: ServiceHandle;

  beforeAll(async () => {
    first = await boot(a, prefix, logs);
    second = await boot(b, prefix);
  });

  afterAll(async () => {
    await first?.close();
    await second?.close();
  });

  it('serves HTTP on a free port at its url', async () => {
    expect(first.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(first.url).not.toBe(second.url);

    const response = await fetch(`${first.url}/hello`);

    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ replica: 'a' });
  });

  it('refuses a body over the limit with 413', async () => {
    const small = await fetch(`${first.url}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ n: 1 }) });
    expect(await small.json()).toEqual({ n: 1 });

    const large = await fetch(`${first.url}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'x'.repeat(2048) }),
    });
    expect(large.status).toBe(413);
  });

  it('answers a message pattern under the prefix, and not on the bare pattern', async () => {
    expect(await request(client, `${prefix}.ping`, { n: 1 }, 2000)).toEqual({ ok: true, value: { pong: 1, replica: expect.stringMatching(/^[ab]$/) } });

    expect(await request(client, 'ping', { n: 2 }, 300, 'nobody on bare ping')).toEqual({
      ok: false,
      error: { status: 503, error: 'Service Unavailable', details: 'nobody on bare ping' },
    });
  });

  it('shares requests between replicas in its queue group, each handled once', async () => {
    a.handled = 0;
    b.handled = 0;

    const replies = await Promise.all(Array.from({ length: 40 }, (_, n) => request(client, `${prefix}.ping`, { n }, 2000)));

    expect(replies.every((reply) => reply.ok)).toBe(true);
    expect(a.handled + b.handled).toBe(40);
    expect(a.handled).toBeGreaterThan(0);
    expect(b.handled).toBeGreaterThan(0);
  });

  it("writes Nest's own log lines as JSON through the service logger", () => {
    const records = logs.lines.map((line) => JSON.parse(line) as Record<string, unknown>);

    expect(records).toContainEqual(expect.objectContaining({ name: 'runtime-test', context: 'NestApplication', msg: 'Nest application successfully started' }));
  });
});

describe('ServiceHandle.close', () => {
  it('stops answering over NATS and HTTP', async () => {
    const prefix = freshPrefix();
    const service = await boot({ name: 'c', handled: 0 }, prefix);
    expect(await request(client, `${prefix}.ping`, { n: 1 }, 2000)).toMatchObject({ ok: true });

    await service.close();

    expect(await request(client, `${prefix}.ping`, { n: 2 }, 300, 'closed')).toEqual({
      ok: false,
      error: { status: 503, error: 'Service Unavailable', details: 'closed' },
    });
    await expect(fetch(`${service.url}/hello`)).rejects.toThrow();
  });
});

describe('connection limits', () => {
  const config = { natsUrl: NATS_URL, natsPrefix: freshPrefix(), httpPort: 0, httpHost: '127.0.0.1', logLevel: 'silent' as const };
  const logger = createLogger('runtime-test', { destination: new LogLines() });

  it('are set on the listener, checked often enough to fire near their value', async () => {
    const limits = { headersTimeoutMs: 1000, requestTimeoutMs: 2000, keepAliveTimeoutMs: 3000, maxConnections: 7 };
    const service = await bootstrapService({ module: PingModule.forReplica({ name: 'd', handled: 0 }), config, logger, connectionLimits: limits });
    try {
      const server = service.app.getHttpServer() as Server & { connectionsCheckingInterval: number };
      expect({
        headersTimeout: server.headersTimeout,
        requestTimeout: server.requestTimeout,
        keepAliveTimeout: server.keepAliveTimeout,
        maxConnections: server.maxConnections,
        connectionsCheckingInterval: server.connectionsCheckingInterval,
      }).toEqual({ headersTimeout: 1000, requestTimeout: 2000, keepAliveTimeout: 3000, maxConnections: 7, connectionsCheckingInterval: 250 });
      expect((await fetch(`${service.url}/hello`)).status).toBe(200);
    } finally {
      await service.close();
    }
  });

  it('are checked a quarter of the headers timeout apart, at most 1 s', () => {
    const interval = (headersTimeoutMs: number) => connectionsCheckingIntervalMs({ headersTimeoutMs, requestTimeoutMs: 600_000, keepAliveTimeoutMs: 72_000, maxConnections: 0 });
    expect([interval(100), interval(1000), interval(4000), interval(10_000), interval(600_000)]).toEqual([25, 250, 1000, 1000, 1000]);
  });

  it("leave Fastify's own when omitted (the internal ports of every other service)", async () => {
    const service = await bootstrapService({ module: PingModule.forReplica({ name: 'e', handled: 0 }), config, logger });
    try {
      const server = service.app.getHttpServer() as Server;
      expect({ headersTimeout: server.headersTimeout, requestTimeout: server.requestTimeout, keepAliveTimeout: server.keepAliveTimeout, maxConnections: server.maxConnections }).toEqual({
        headersTimeout: 60_000,
        requestTimeout: 0,
        keepAliveTimeout: 72_000,
        maxConnections: undefined,
      });
    } finally {
      await service.close();
    }
  });
});
