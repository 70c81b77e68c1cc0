import { Inject, Injectable } from '@nestjs/common';
import type { ClientProxy } from '@nestjs/microservices';
import { z } from 'zod';
import { Decision, namespace, ServiceError, serviceError, type DecideRequest, type Reply } from '@keyplane/contracts';
import { throttled, type Logger } from '@keyplane/observability';
import { request } from '@keyplane/nats';
import type { GatewayConfig } from '../config.js';
import { GatewayMetrics } from '../ops/gateway-metrics.js';
import { AUTH_UNAVAILABLE } from '../responses/error-body.js';
import { GATEWAY_CONFIG, LOGGER, NATS_CLIENT } from '../tokens.js';
import { keyMasker } from './key-masker.js';

const DecisionReply = z.union([z.strictObject({ ok: z.literal(true), value: Decision }), z.strictObject({ ok: z.literal(false), error: ServiceError })]);

const UNAVAILABLE: Reply<Decision> = { ok: false, error: serviceError(503, AUTH_UNAVAILABLE) };

/** Asks `auth.decide` (any replica, queue group) and fails closed: no valid answer in time is a 503. */
@Injectable()
export class AuthDecider {
  private readonly subject: string;
  private readonly withoutKeys: (ask: DecideRequest) => DecideRequest;
  /** With auth away every request fails closed: one line in 5 s says so, beside the 503s in the metrics. */
  private readonly logFailedClosed = throttled(5000);

  constructor(
    @Inject(NATS_CLIENT) private readonly client: ClientProxy,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(GatewayMetrics) private readonly metrics: GatewayMetrics,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.subject = namespace(config.natsPrefix).subjects.auth.decide;
    this.withoutKeys = keyMasker(config.keyPrefix);
  }

  async decide(ask: DecideRequest): Promise<Reply<Decision>> {
    const started = performance.now();
    const sent = this.withoutKeys(ask);
    const reply = await request<Decision>(this.client, this.subject, sent, this.config.authTimeoutMs, AUTH_UNAVAILABLE);
    const checked = DecisionReply.safeParse(reply);
    this.metrics.decisionSeconds.observe({ outcome: checked.success ? (checked.data.ok ? checked.data.value.outcome : 'error') : 'invalid' }, (performance.now() - started) / 1000);
    if (!checked.success) {
      this.logger.error({ issue: checked.error.issues[0], requestId: sent.requestId }, 'auth.decide answered with a malformed decision');
      return UNAVAILABLE;
    }
    if (checked.data.ok) return checked.data;
    // Auth's errors are 503 (it cannot count the request) and 400 (a request it cannot read, a
    // bug here). Passed on as they came, any other would reach the client as is: a 404, or a 401
    // without WWW-Authenticate. So every error is answered with the gateway's own 503.
    const { status, details } = checked.data.error;
    if (status !== 503) this.logger.error({ status, details, requestId: sent.requestId }, 'auth.decide answered an error other than 503');
    else this.logFailedClosed((suppressed) => this.logger.warn({ details, requestId: sent.requestId, suppressed }, 'no decision from auth: answered 503'));
    return UNAVAILABLE;
  }
}
