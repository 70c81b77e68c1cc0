import { Inject, Injectable } from '@nestjs/common';
import type { ClientProxy } from '@nestjs/microservices';
import { z } from 'zod';
import { Decision, namespace, ServiceError, serviceError, type DecideRequest, type Reply } from '@keyplane/contracts';
import type { Logger } from '@keyplane/observability';
import { request } from '@keyplane/nats';
import type { GatewayConfig } from '../config.js';
import { GatewayMetrics } from '../ops/gateway-metrics.js';
import { AUTH_UNAVAILABLE } from '../responses/error-body.js';
import { GATEWAY_CONFIG, LOGGER, NATS_CLIENT } from '../tokens.js';

const DecisionReply = z.union([z.strictObject({ ok: z.literal(true), value: Decision }), z.strictObject({ ok: z.literal(false), error: ServiceError })]);

/** Asks `auth.decide` (any replica, queue group) and fails closed: no valid answer in time is a 503. */
@Injectable()
export class AuthDecider {
  private readonly subject: string;

  constructor(
    @Inject(NATS_CLIENT) private readonly client: ClientProxy,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(GatewayMetrics) private readonly metrics: GatewayMetrics,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.subject = namespace(config.natsPrefix).subjects.auth.decide;
  }

  async decide(ask: DecideRequest): Promise<Reply<Decision>> {
    const started = performance.now();
    const reply = await request<Decision>(this.client, this.subject, ask, this.config.authTimeoutMs, AUTH_UNAVAILABLE);
    const checked = DecisionReply.safeParse(reply);
    this.metrics.decisionSeconds.observe({ outcome: checked.success ? (checked.data.ok ? checked.data.value.outcome : 'error') : 'invalid' }, (performance.now() - started) / 1000);
    if (checked.success) return checked.data;
    this.logger.error({ issue: checked.error.issues[0], requestId: ask.requestId }, 'auth.decide answered with a malformed decision');
    return { ok: false, error: serviceError(503, AUTH_UNAVAILABLE) };
  }
}
