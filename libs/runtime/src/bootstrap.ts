import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyServerOptions } from 'fastify';
import { natsServerOptions, PrefixedNatsServer } from '@keyplane/nats';
import { PinoNestLogger, type Logger } from '@keyplane/observability';
import type { CommonConfig } from './env.js';

export interface ServiceHandle {
  app: INestApplication;
  /** Base URL of the service's HTTP port (probes, metrics; the gateway's public API). */
  url: string;
  close(): Promise<void>;
}

export interface BootstrapOptions {
  /** The root module, built by the service with its configuration. */
  module: unknown;
  config: CommonConfig;
  logger: Logger;
  /** NATS queue group: replicas share requests. Omit for an HTTP-only app. */
  queue?: string;
  /** The service's own NATS connection, for handlers to share (see PrefixedNatsServer). */
  nats?: NatsConnection;
  bodyLimitBytes?: number;
  /** Peers whose `X-Forwarded-For` sets `request.ip` (Fastify's trustProxy); none when empty or omitted. */
  trustedProxies?: string[];
  /**
   * Answers the router gives before any hook or filter runs (a malformed percent-encoding, an
   * over-long path parameter): Fastify's own body otherwise, not the service's error shape.
   */
  frameworkErrors?: FastifyServerOptions['frameworkErrors'];
  /** The longest path parameter the router matches; Fastify's default is 100 characters. */
  maxParamLength?: number;
  /** Rewrites each request's target before it is routed (Fastify's `rewriteUrl`). */
  rewriteUrl?: FastifyServerOptions['rewriteUrl'];
}

/**
 * The one way every service starts: Fastify HTTP for probes (and, for the gateway, the
 * API), plus the NATS microservice under the configured prefix. Tests boot services through
 * this same function.
 */
export async function bootstrapService(options: BootstrapOptions): Promise<ServiceHandle> {
  const { module, config, logger, queue, nats, bodyLimitBytes, trustedProxies = [], frameworkErrors, maxParamLength, rewriteUrl } = options;
  const app = await NestFactory.create<NestFastifyApplication>(
    module as never,
    new FastifyAdapter({
      bodyLimit: bodyLimitBytes ?? 1024 * 1024,
      ...(trustedProxies.length > 0 && { trustProxy: trustedProxies }),
      ...(frameworkErrors && { frameworkErrors }),
      ...(rewriteUrl && { rewriteUrl }),
      ...(maxParamLength !== undefined && { routerOptions: { maxParamLength } }),
    }),
    { logger: new PinoNestLogger(logger), abortOnError: false },
  );
  if (queue) {
    app.connectMicroservice(
      { strategy: new PrefixedNatsServer(config.natsPrefix, {
          ...natsServerOptions(config.natsUrl),
          queue,
          name: queue,
          maxReconnectAttempts: -1,
          noAsyncTraces: true,
          // On close, leave the queue group first so NATS routes new requests to other replicas,
          // then give requests already delivered here a moment to be answered.
          gracefulShutdown: true,
          gracePeriod: 100,
        }, nats) },
      { inheritAppConfig: true },
    );
    await app.startAllMicroservices();
  }
  await app.listen(config.httpPort, config.httpHost);
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.httpPort;
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    close: () => app.close(),
  };
}
