import { Controller, Inject } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import {
  AuditEventsRequest,
  fail,
  GetKeyRequest,
  ListKeysRequest,
  notFound,
  ok,
  type Actor,
  type AuditPage,
  type KeyObject,
  type KeyPage,
  type Recheck,
  type Reply,
} from '@keyplane/contracts';
import type { Kysely } from 'kysely';
import type { Logger } from '@keyplane/observability';
import type { z } from 'zod';
import type { Database } from '../db/schema.js';
import { actingAs } from '../key/acting-key.js';
import { handleMessage, type KeysMessageSchema } from '../messaging/handle-message.js';
import { KeysMetrics } from '../metrics/keys-metrics.js';
import { loadStoredActor } from '../read-model/stored-actor.js';
import { subjects } from '../subjects.js';
import { CLOCK, KEYS_DB, LOGGER, type Clock } from '../tokens.js';
import { auditEvents } from './audit-events.js';
import { getKey } from './get-key.js';
import { listKeys } from './list-keys.js';

@Controller()
export class KeyQueriesController {
  constructor(
    @Inject(KEYS_DB) private readonly db: Kysely<Database>,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(KeysMetrics) private readonly metrics: KeysMetrics,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  @MessagePattern(subjects.get)
  get(@Payload() payload: unknown): Promise<Reply<KeyObject>> {
    return this.handle('get', GetKeyRequest, payload, async ({ actor, recheck, keyId }) => {
      const refused = await this.refusedActor({ actor, recheck });
      if (refused) return refused;
      const key = await getKey(this.db, actor.accountId, keyId, this.now());
      return key ? ok(key) : fail(notFound(`API key ${keyId} not found`));
    });
  }

  @MessagePattern(subjects.list)
  list(@Payload() payload: unknown): Promise<Reply<KeyPage>> {
    return this.handle('list', ListKeysRequest, payload, async (request) => {
      const refused = await this.refusedActor(request);
      if (refused) return refused;
      const result = await listKeys(this.db, request, this.now());
      return result.ok ? ok(result.page) : fail(result.error);
    });
  }

  @MessagePattern(subjects.audit)
  audit(@Payload() payload: unknown): Promise<Reply<AuditPage>> {
    return this.handle('audit', AuditEventsRequest, payload, async (request) => {
      const refused = await this.refusedActor(request);
      if (refused) return refused;
      const result = await auditEvents(this.db, request);
      return result.ok ? ok(result.page) : fail(result.error);
    });
  }

  /** A key rotated out, revoked, expired or narrowed since auth let its request through reads nothing more (see actingAs). */
  private async refusedActor({ actor, recheck }: { actor: Actor; recheck?: Recheck }): Promise<Reply<never> | null> {
    const acting = actingAs(actor, recheck, await loadStoredActor(this.db, actor.keyId), this.now());
    return acting.ok ? null : fail(acting.error);
  }

  private now(): string {
    return this.clock().toISOString();
  }

  private handle<S extends KeysMessageSchema, T>(name: string, schema: S, payload: unknown, work: (request: z.infer<S>) => Promise<Reply<T>>) {
    return handleMessage({ name, schema, payload, logger: this.logger, record: (result) => this.metrics.query(name, result) }, work);
  }
}
