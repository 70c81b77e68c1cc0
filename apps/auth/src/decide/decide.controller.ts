import { Controller, Inject } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { fail, namespace, ok, serviceError, type Decision, type Reply } from '@keyplane/contracts';
import { throttled, type Logger } from '@keyplane/observability';
import { newUlid } from '@keyplane/runtime';
import { UsagePublisher } from '../usage/usage-publisher.js';
import { usageRecorded, type Decided } from '../usage/usage-event.js';
import { Authorizer } from './authorizer.js';
import { parseDecideRequest } from './decide-request.js';
import { DecideMetrics } from './decide-metrics.js';
import { InFlight } from './in-flight.js';

export const AUTH_LOGGER = Symbol('AUTH_LOGGER');

const { auth } = namespace('').subjects;

/** `auth.decide`: asked by the gateway on every API request, with the key's hash only. */
@Controller()
export class DecideController {
  /** While the quota store is away every request with a known key fails: one line in 5 s says so. */
  private readonly logQuotaStoreFailure = throttled(5000);

  constructor(
    @Inject(Authorizer) private readonly authorizer: Authorizer,
    @Inject(UsagePublisher) private readonly usage: UsagePublisher,
    @Inject(DecideMetrics) private readonly metrics: DecideMetrics,
    @Inject(InFlight) private readonly inFlight: InFlight,
    @Inject(AUTH_LOGGER) private readonly logger: Logger,
  ) {}

  @MessagePattern(auth.decide)
  decide(@Payload() payload: unknown): Promise<Reply<Decision>> {
    return this.inFlight.run(() => this.answer(payload));
  }

  private async answer(payload: unknown): Promise<Reply<Decision>> {
    const startedAt = performance.now();
    const parsed = parseDecideRequest(payload);
    if (!parsed.ok) {
      this.metrics.observe(startedAt, 'bad_request', 'invalid');
      return fail(parsed.error);
    }
    let decided: Decided;
    try {
      decided = await this.authorizer.decide(parsed.value);
    } catch (error) {
      this.metrics.observe(startedAt, 'error', 'quota_store');
      const requestId = parsed.value.requestId;
      this.logQuotaStoreFailure((suppressed) => this.logger.error({ err: error, requestId, suppressed }, 'no decision: the quota store failed'));
      return fail(serviceError(503, 'Authorization service unavailable'));
    }
    const { decision } = decided;
    this.metrics.observe(startedAt, decision.outcome, decision.reason);
    // Only queued: the publisher sends on a later turn of the event loop, once the reply is out.
    this.usage.record(usageRecorded(newUlid(), decided));
    return ok(decision);
  }
}
