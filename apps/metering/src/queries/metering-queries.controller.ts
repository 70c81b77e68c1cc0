import { Controller, Inject } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import type { Kysely } from 'kysely';
import type { z } from 'zod';
import {
  AlertsRequest,
  badRequest,
  fail,
  isLaterInstant,
  LastUsedRequest,
  namespace,
  ok,
  parse,
  serviceError,
  UsageEventsRequest,
  UsageWindowsRequest,
  type Alert,
  type LastUsed,
  type Reply,
  type UsageWindows,
} from '@keyplane/contracts';
import type { Logger } from '@keyplane/observability';
import type { Database } from '../db/schema.js';
import { METERING_DB, METERING_LOGGER } from '../tokens.js';
import { listAlerts } from './alerts.query.js';
import { decodePosition } from './cursor.js';
import { lastUsed } from './last-used.query.js';
import { usageEvents, type UsageEventsPage } from './usage-events.query.js';
import { usageWindows } from './usage-windows.query.js';
import { windowRange } from './window-range.js';

const subjects = namespace('').subjects.metering;

/** Every metering query may name the HTTP request it serves. */
type MeteringQuerySchema = z.ZodType<{ requestId?: string }>;

/** Metering's read side over NATS: every request is validated, scoped by account, and answered with a Reply. */
@Controller()
export class MeteringQueriesController {
  constructor(
    @Inject(METERING_DB) private readonly db: Kysely<Database>,
    @Inject(METERING_LOGGER) private readonly logger: Logger,
  ) {}

  @MessagePattern(subjects.usage)
  usage(@Payload() payload: unknown): Promise<Reply<UsageWindows>> {
    return this.answer('usage', UsageWindowsRequest, payload, async (request) => {
      const range = windowRange(request.from, request.to, request.granularity);
      if (!range.ok) return fail(badRequest(range.details));
      return ok(await usageWindows(this.db, request, range.starts));
    });
  }

  @MessagePattern(subjects.events)
  events(@Payload() payload: unknown): Promise<Reply<UsageEventsPage>> {
    return this.answer('events', UsageEventsRequest, payload, async (request) => {
      const { from, to, cursor } = request;
      if (from && to && isLaterInstant(from, to)) return fail(badRequest('from: must not be after to'));
      const after = cursor === undefined ? null : decodePosition('events', cursor);
      if (cursor !== undefined && after === null) return fail(badRequest('cursor: invalid cursor'));
      return ok(await usageEvents(this.db, request, after));
    });
  }

  @MessagePattern(subjects.alerts)
  alerts(@Payload() payload: unknown): Promise<Reply<{ data: Alert[]; nextCursor: string | null }>> {
    return this.answer('alerts', AlertsRequest, payload, async (request) => {
      const { cursor } = request;
      const after = cursor === undefined ? null : decodePosition('alerts', cursor);
      if (cursor !== undefined && after === null) return fail(badRequest('cursor: invalid cursor'));
      return ok(await listAlerts(this.db, request, after));
    });
  }

  @MessagePattern(subjects.lastUsed)
  lastUsed(@Payload() payload: unknown): Promise<Reply<LastUsed>> {
    return this.answer('last-used', LastUsedRequest, payload, async (request) => ok(await lastUsed(this.db, request)));
  }

  /**
   * Validates first (a bad message is a 400 naming the field); a failure below the handler
   * (Postgres down) is a 503 for the caller, never an unanswered request, and its line carries
   * the query's `requestId` (the gateway's `X-Request-Id`), so it can be found from the answer.
   */
  private async answer<S extends MeteringQuerySchema, T>(query: string, schema: S, payload: unknown, handle: (request: z.infer<S>) => Promise<Reply<T>>): Promise<Reply<T>> {
    const request = parse(schema, payload);
    if (!request.ok) return fail(request.error);
    try {
      return await handle(request.value);
    } catch (error) {
      this.logger.error({ err: error, query, requestId: request.value.requestId }, 'metering query failed');
      return fail(serviceError(503, 'Metering service unavailable'));
    }
  }
}
