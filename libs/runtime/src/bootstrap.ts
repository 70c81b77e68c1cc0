import 'reflect-metadata';
import type { Server } from 'node:http';
import type { INestApplication } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyHttpOptions, FastifyServerOptions } from 'fastify';
import { natsServerOptions, PrefixedNatsServer } from '@keyplane/nats';
import { PinoNestLogger, type Logger } from '@keyplane/observability';
import type { CommonConfig, ListenerConfig } from './env.js';

export interface ServiceHandle {
  app: INestApplication;
  /** Base URL of the service's HTTP port (probes, metrics; the gateway's public API). */
  url: string;
  close(): Promise<void>;
}

export interface BootstrapOptions {
  /** The root module, built by the service with its configuration. */
  module: unknown;
  /** The NATS settings are needed only with a `queue`. */
  config: ListenerConfig & Partial<Pick<CommonConfig, 'natsUrl' | 'natsTls' | 'natsPrefix'>>;
  logger: Logger;
  /** NATS queue group: replicas share requests. Omit for an HTTP-only app. */
  queue?: string;
  /** The service's own NATS connection, for handlers to share (see PrefixedNatsServer). */
  nats?: NatsConnection;
  bodyLimitBytes?: number;
  /**
   * Answers the router gives before any hook or filter runs (a malformed percent-encoding, an
   * over-long path parameter): Fastify's own body otherwise, not the service's error shape.
   */
  frameworkErrors?: FastifyServerOptions['frameworkErrors'];
  /** The longest path parameter the router matches; Fastify's default is 100 characters. */
  maxParamLength?: number;
  /** Rewrites each request's target before it is routed (Fastify's `rewriteUrl`). */
  rewriteUrl?: FastifyServerOptions['rewriteUrl'];
  /** How long a client may take or idle on the HTTP listener; Fastify's defaults when omitted. */
  connectionLimits?: ConnectionLimits;
}

/** What a slow, idle or numerous client may hold on a listener that faces the internet. */
export interface ConnectionLimits {
  /** From a request's first byte (or the connection's opening) until its headers are complete. */
  headersTimeoutMs: number;
  /** From a request's first byte until its body is complete; at least `headersTimeoutMs`. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after it (Node waits 1 s more than it advertises). */
  keepAliveTimeoutMs: number;
  /** Connections accepted beyond it are closed at once, unanswered; 0 for no cap. */
  maxConnections: number;
}

/**
 * Node checks the header and request timeouts only every `connectionsCheckingInterval` (30 s by
 * default), so a 10 s timeout would fire anywhere up to 40 s. A quarter of the headers timeout
 * (the shorter one), at most 1 s, makes both fire within a quarter of themselves. Each check
 * walks only the connections awaiting a request's headers or body, not idle keep-alive ones,
 * so checking often costs little.
 */
export function connectionsCheckingIntervalMs(limits: ConnectionLimits): number {
  return Math.max(1, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4)));
}

function connectionOptions(limits: ConnectionLimits): FastifyHttpOptions<Server> {
  return {
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // Fastify sets `requestTimeout` on the server after creating it; Node checks it against `headersTimeout` while creating it.
    requestTimeout: limits.requestTimeoutMs,
    http: {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: connectionsCheckingIntervalMs(limits),
    },
  };
}

/**
 * The one way every service starts: Fastify HTTP for probes (and, for the gateway, the
 * API), plus the NATS microservice under the configured prefix. Tests boot services through
 * this same function.
 */
export async function bootstrapService(options: BootstrapOptions): Promise<ServiceHandle> {
  const { module, config, logger, queue, nats, bodyLimitBytes, frameworkErrors, maxParamLength, rewriteUrl, connectionLimits } = options;
  const app = await NestFactory.create<NestFastifyApplication>(
    module as never,
    new FastifyAdapter({
      bodyLimit: bodyLimitBytes ?? 1024 * 1024,
      ...(frameworkErrors && { frameworkErrors }),
      ...(rewriteUrl && { rewriteUrl }),
      ...(maxParamLength !== undefined && { routerOptions: { maxParamLength } }),
      ...(connectionLimits && connectionOptions(connectionLimits)),
    }),
    { logger: new PinoNestLogger(logger), abortOnError: false },
  );
  // Node's own cap (it emits 'drop' for each connection it closes); Fastify has no option for it.
  if (connectionLimits && connectionLimits.maxConnections > 0) app.getHttpServer().maxConnections = connectionLimits.maxConnections;
  if (queue) {
    const { natsUrl, natsTls, natsPrefix = '' } = config;
    if (natsUrl === undefined) throw new Error(`${queue}: a service that answers on NATS needs natsUrl in its config`);
    app.connectMicroservice(
      { strategy: new PrefixedNatsServer(natsPrefix, {
          ...natsServerOptions(natsUrl, natsTls),
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
