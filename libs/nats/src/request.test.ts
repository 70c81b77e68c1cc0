import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { Controller, Module, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ClientProxyFactory, MessagePattern, Payload, Transport, type ClientProxy } from '@nestjs/microservices';
import type { NatsConnection } from '@nats-io/transport-node';
import { badRequest, fail, ok, type Reply } from '@keyplane/contracts';
import { connectNats } from './connect.js';
import { PrefixedNatsServer } from './prefixed-nats-server.js';
import { request } from './request.js';

const NATS_URL = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
const prefix = `t${randomBytes(5).toString('hex')}`;

@Controller()
class EchoController {
  @MessagePattern('echo')
  echo(@Payload() payload: { name?: string }): Reply<{ hello: string }> {
    return payload.name ? ok({ hello: payload.name }) : fail(badRequest('name: Required'));
  }
}

@Module({ controllers: [EchoController] })
class EchoModule {}

let server: INestMicroservice;
let client: ClientProxy;
let nc: NatsConnection;

beforeAll(async () => {
  server = await NestFactory.createMicroservice(EchoModule, {
    strategy: new PrefixedNatsServer(prefix, { servers: NATS_URL, queue: 'request-test' }),
    logger: false,
  });
  await server.listen();
  client = ClientProxyFactory.create({ transport: Transport.NATS, options: { servers: NATS_URL } });
  await client.connect();
  nc = await connectNats({ url: NATS_URL, name: 'request-test-silent' });
});

afterAll(async () => {
  await client?.close();
  await server?.close();
  await nc?.close();
});

describe('request', () => {
  it('returns the reply of the handler listening under the prefix', async () => {
    expect(await request(client, `${prefix}.echo`, { name: 'ada' }, 2000)).toEqual({ ok: true, value: { hello: 'ada' } });
  });

  it('passes an error reply through as the handler gave it', async () => {
    expect(await request(client, `${prefix}.echo`, {}, 2000)).toEqual({
      ok: false,
      error: { status: 400, error: 'Bad Request', details: 'name: Required' },
    });
  });

  it('answers 503 with the given text at once, without waiting out the timeout, when no one listens', async () => {
    const started = Date.now();

    const reply = await request(client, `${prefix}.nobody`, {}, 5000, 'Authorization service unavailable');

    expect(reply).toEqual({ ok: false, error: { status: 503, error: 'Service Unavailable', details: 'Authorization service unavailable' } });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('answers 503 after the timeout when the responder never replies', async () => {
    const silent = nc.subscribe(`${prefix}.silent`);
    await nc.flush();
    const started = Date.now();

    const reply = await request(client, `${prefix}.silent`, {}, 300, 'Keys service unavailable');

    silent.unsubscribe();
    expect(reply).toEqual({ ok: false, error: { status: 503, error: 'Service Unavailable', details: 'Keys service unavailable' } });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('says "Service unavailable" when the caller gives no text', async () => {
    expect(await request(client, `${prefix}.nobody`, {}, 300)).toEqual({
      ok: false,
      error: { status: 503, error: 'Service Unavailable', details: 'Service unavailable' },
    });
  });
});

describe('PrefixedNatsServer', () => {
  it('serves a handler only under its prefix, not under the bare pattern', async () => {
    expect(await request(client, 'echo', { name: 'ada' }, 300, 'nobody on the bare subject')).toEqual({
      ok: false,
      error: { status: 503, error: 'Service Unavailable', details: 'nobody on the bare subject' },
    });
  });
});
