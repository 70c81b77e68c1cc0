import { sql } from 'kysely';
import { z } from 'zod';
import { badRequest, decodeCursor, encodeCursor, IsoTimestamp, KeyEvent, type AuditEventsRequest, type AuditPage, type ServiceError } from '@keyplane/contracts';
import type { KeysDb } from '../db/schema.js';
import { keyStreamId } from '../key/stream-id.js';
import { toAuditEvent } from './audit-view.js';
import { toPage } from './page.js';

const AuditCursor = z.tuple([IsoTimestamp, z.number().int().nonnegative()]);

/**
 * The account's lifecycle events straight from the event store, newest first.
 * `from` is inclusive and `to` exclusive, so consecutive windows neither overlap nor leave gaps.
 */
export async function auditEvents(db: KeysDb, request: AuditEventsRequest): Promise<{ ok: true; page: AuditPage } | { ok: false; error: ServiceError }> {
  if (request.from && request.to && Date.parse(request.from) > Date.parse(request.to)) return { ok: false, error: badRequest('from: must not be after to') };
  const after = request.cursor === undefined ? undefined : decodeCursor(request.cursor, AuditCursor);
  if (after === null) return { ok: false, error: badRequest('cursor: not a cursor this query returned') };

  let query = db.selectFrom('events').selectAll().where(sql<string>`data->>'accountId'`, '=', request.actor.accountId);
  if (request.keyId) query = query.where('stream_id', '=', keyStreamId(request.keyId));
  if (request.type) query = query.where('type', '=', request.type);
  // Compared by Postgres at its own (microsecond) precision: a Date would drop what is finer than a millisecond.
  if (request.from) query = query.where('occurred_at', '>=', sql<Date>`${request.from}::timestamptz`);
  if (request.to) query = query.where('occurred_at', '<', sql<Date>`${request.to}::timestamptz`);
  if (after) query = query.where((eb) => eb(eb.refTuple('occurred_at', 'global_position'), '<', eb.tuple(new Date(after[0]), after[1])));

  const rows = await query.orderBy('occurred_at', 'desc').orderBy('global_position', 'desc').limit(request.limit + 1).execute();
  return {
    ok: true,
    page: toPage(
      rows,
      request.limit,
      (row) => toAuditEvent(KeyEvent.parse(row.data)),
      (row) => encodeCursor([row.occurred_at.toISOString(), row.global_position]),
    ),
  };
}
