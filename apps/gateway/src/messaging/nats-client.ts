import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit, type Provider } from '@nestjs/common';
import type { ClientProxy } from '@nestjs/microservices';
import type { Subscription } from 'rxjs';
import { natsServerOptions } from '@keyplane/nats';
import { Readiness } from '@keyplane/observability';
import { natsDependency, reaching } from '@keyplane/runtime';
import type { GatewayConfig } from '../config.js';
import { GatewayMetrics } from '../ops/gateway-metrics.js';
import { GATEWAY_CONFIG, NATS_CLIENT } from '../tokens.js';
import { MuxedNatsClient } from './muxed-nats-client.js';

export const natsClientProvider: Provider = {
  provide: NATS_CLIENT,
  inject: [GATEWAY_CONFIG, GatewayMetrics],
  useFactory: (config: GatewayConfig, metrics: GatewayMetrics): ClientProxy => {
    const client = new MuxedNatsClient(
      // No async stack traces: nats.js would build an Error on every request just in case one fails.
      { ...natsServerOptions(config.natsUrl, config.natsTls), name: 'gateway', maxReconnectAttempts: -1, reconnectTimeWait: 250, noAsyncTraces: true },
      Math.max(config.authTimeoutMs, config.keysTimeoutMs, config.meteringTimeoutMs),
    );
    metrics.countWaitingRequests(() => client.waitingForReplies);
    // ClientNats narrows ClientProxy's status type to NatsStatus; callers only need the base API.
    return client as unknown as ClientProxy;
  },
};

/**
 * Connects before the gateway listens, so start-up fails loudly when NATS is down, and
 * reports readiness from the connection status: without NATS every request would be a 503.
 */
@Injectable()
export class NatsConnection implements OnModuleInit, OnApplicationShutdown {
  private connected = false;
  private status?: Subscription;

  constructor(
    @Inject(NATS_CLIENT) private readonly client: ClientProxy,
    @Inject(Readiness) private readonly readiness: Readiness,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    this.status = this.client.status.subscribe((status) => {
      this.connected = status === 'connected';
    });
    this.readiness.add('nats', () => this.connected);
    await reaching(natsDependency(this.config.natsUrl, this.config.natsTls), () => this.client.connect());
  }

  async onApplicationShutdown(): Promise<void> {
    this.status?.unsubscribe();
    await this.client.close();
  }
}
