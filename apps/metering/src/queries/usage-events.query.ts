import type { Kysely } from 'kysely';
import type { UsageEventsRequest, UsageRecorded } from '@keyplane/contracts';
import type { Database, UsageEventRow } from '../db/schema.js';
import { encodePosition, type Position } from './cursor.js';
import { firstMillisecondFrom, lastMillisecondTo } from './instant-bounds.js';

export type StoredUsageEvent = Omit<UsageRecorded, 'type' | 'version'>;

export interface UsageEventsPage {
  data: StoredUsageEvent[];
  nextCursor: string | null;
}

/**
 * The key's usage events, newest first (time, then id), from and to both included. A range
 * inside one millisecond (`…00.0005Z` to `…00.0009Z`) holds no stored time: an empty page.
 */
export async function usageEvents(db: Kysely<Database>, request: UsageEventsRequest, after: Position | null): Promise<UsageEventsPage> {
  let query = db
    .selectFrom('usage_events')
    .selectAll()
    .where('key_id', '=', request.keyId)
    .where('account_id', '=', request.accountId)
    .orderBy('occurred_at', 'desc')
    .orderBy('event_id', 'desc')
    .limit(request.limit + 1);
  if (request.from) query = query.where('occurred_at', '>=', firstMillisecondFrom(request.from));
  if (request.to) query = query.where('occurred_at', '<=', lastMillisecondTo(request.to));
  if (request.outcome) query = query.where('outcome', '=', request.outcome);
  if (after) {
    query = query.where(({ eb, refTuple, tuple }) => eb(refTuple('occurred_at', 'event_id'), '<', tuple(new Date(after.at), after.id)));
  }
  const rows = await query.execute();
  const page = rows.slice(0, request.limit);
  const last = page.at(-1);
  return {
    data: page.map(toUsageEvent),
    nextCursor: rows.length > request.limit && last ? encodePosition('events', { at: last.occurred_at.toISOString(), id: last.event_id }) : null,
  };
}

function toUsageEvent(row: UsageEventRow): StoredUsageEvent {
  return {
    eventId: row.event_id,
    occurredAt: row.occurred_at.toISOString(),
    keyId: row.key_id,
    accountId: row.account_id,
    environment: row.environment as StoredUsageEvent['environment'],
    outcome: row.outcome as StoredUsageEvent['outcome'],
    reason: row.reason as StoredUsageEvent['reason'],
    permission: row.permission,
    method: row.method,
    path: row.path,
    clientIp: row.client_ip,
    userAgent: row.user_agent,
    requestId: row.request_id,
    hourUsed: row.hour_used,
    dayUsed: row.day_used,
    hourLimit: row.hour_limit,
    dayLimit: row.day_limit,
  };
}
