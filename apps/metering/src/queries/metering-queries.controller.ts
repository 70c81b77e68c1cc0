import { Controller, Inject } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import type { Kysely } from 'kysely';
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

/** Metering's read side over NATS: every request is validated, scoped by account, and answered with a Reply. */
@Controller()
export class MeteringQueriesController {
  constructor(
    @Inject(METERING_DB) private readonly db: Kysely<Database>,
    @Inject(METERING_LOGGER) private readonly logger: Logger,
  ) {}

  @MessagePattern(subjects.usage)
  usage(@Payload() payload: unknown): Promise<Reply<UsageWindows>> {
    return this.answer('usage', async () => {
      const request = parse(UsageWindowsRequest, payload);
      if (!request.ok) return fail(request.error);
      const range = windowRange(request.value.from, request.value.to, request.value.granularity);
      if (!range.ok) return fail(badRequest(range.details));
      return ok(await usageWindows(this.db, request.value, range.starts));
    });
  }

  @MessagePattern(subjects.events)
  events(@Payload() payload: unknown): Promise<Reply<UsageEventsPage>> {
    return this.answer('events', async () => {
      const request = parse(UsageEventsRequest, payload);
      if (!request.ok) return fail(request.error);
      const { from, to, cursor } = request.value;
      if (from && to && isLaterInstant(from, to)) return fail(badRequest('from: must not be after to'));
      const after = cursor === undefined ? null : decodePosition('events', cursor);
      if (cursor !== undefined && after === null) return fail(badRequest('cursor: invalid cursor'));
      return ok(await usageEvents(this.db, request.value, after));
    });
  }

  @MessagePattern(subjects.alerts)
  alerts(@Payload() payload: unknown): Promise<Reply<{ data: Alert[]; nextCursor: string | null }>> {
    return this.answer('alerts', async () => {
      const request = parse(AlertsRequest, payload);
      if (!request.ok) return fail(request.error);
      const { cursor } = request.value;
      const after = cursor === undefined ? null : decodePosition('alerts', cursor);
      if (cursor !== undefined && after === null) return fail(badRequest('cursor: invalid cursor'));
      return ok(await listAlerts(this.db, request.value, after));
    });
  }

  @MessagePattern(subjects.lastUsed)
  lastUsed(@Payload() payload: unknown): Promise<Reply<LastUsed>> {
    return this.answer('last-used', async () => {
      const request = parse(LastUsedRequest, payload);
      if (!request.ok) return fail(request.error);
      return ok(await lastUsed(this.db, request.value));
    });
  }

  /** A failure below the handler (Postgres down) is a 503 for the caller, never an unanswered request. */
  private async answer<T>(query: string, handle: () => Promise<Reply<T>>): Promise<Reply<T>> {
    try {
      return await handle();
    } catch (error) {
      this.logger.error({ err: error, query }, 'metering query failed');
      return fail(serviceError(503, 'Metering service unavailable'));
    }
  }
}
