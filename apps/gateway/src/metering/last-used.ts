import { Inject, Injectable } from '@nestjs/common';
import { z } from 'zod';
import { IsoTimestamp, type KeyObject } from '@keyplane/contracts';
import type { Logger } from '@keyplane/observability';
import type { Caller } from '../management/management-call.js';
import { GatewayMetrics } from '../ops/gateway-metrics.js';
import { LOGGER } from '../tokens.js';
import { MeteringClient } from './metering-client.js';

const LastUsedTimes = z.record(z.string(), IsoTimestamp);

/**
 * Fills `lastUsedAt` in key objects from metering, one query per answer (a whole list page
 * at once). Metering is the read side: when it does not answer within METERING_TIMEOUT_MS,
 * or answers nonsense, the keys keep `lastUsedAt: null` and the management call still succeeds.
 */
@Injectable()
export class LastUsedFiller {
  constructor(
    @Inject(MeteringClient) private readonly metering: MeteringClient,
    @Inject(GatewayMetrics) private readonly metrics: GatewayMetrics,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async one(caller: Caller, key: KeyObject): Promise<KeyObject> {
    const [filled] = await this.all(caller, [key]);
    return filled!;
  }

  async all({ actor, requestId }: Caller, keys: KeyObject[]): Promise<KeyObject[]> {
    if (keys.length === 0) return keys;
    const reply = await this.metering.lastUsed({ accountId: actor.accountId, requestId, keyIds: keys.map((key) => key.id) });
    const times = reply.ok ? LastUsedTimes.safeParse(reply.value) : null;
    if (!times?.success) {
      this.metrics.lastUsedUnavailable.inc();
      this.logger.warn({ error: reply.ok ? 'malformed answer' : reply.error.details, requestId }, 'lastUsedAt left null: metering did not answer');
      return keys;
    }
    return keys.map((key) => ({ ...key, lastUsedAt: times.data[key.id] ?? key.lastUsedAt }));
  }
}
