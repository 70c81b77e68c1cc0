import { sql, type Kysely, type Selectable } from 'kysely';
import { ConcurrencyConflict, type NewEvent, type StoredEvent } from './events.js';
import type { EventsTable, EventStoreTables } from './schema.js';

type Db = Kysely<EventStoreTables>;

const UNIQUE_VIOLATION = '23505';
const STREAM_VERSION_CONSTRAINT = 'events_stream_version_unique';

/**
 * Appends to one stream with optimistic concurrency. `expectedVersion` is the version the
 * caller decided on (0 for a new stream); if another writer got there first the append
 * fails with ConcurrencyConflict and nothing is written. Pass a transaction to store
 * read-model changes atomically with the events.
 */
export async function appendToStream(db: Db, streamId: string, expectedVersion: number, events: NewEvent[]): Promise<StoredEvent[]> {
  const current = await streamVersion(db, streamId);
  if (current !== expectedVersion) throw new ConcurrencyConflict(streamId, expectedVersion, current);
  if (events.length === 0) return [];
  try {
    const rows = await db
      .insertInto('events')
      .values(
        events.map((event, index) => ({
          stream_id: streamId,
          stream_version: expectedVersion + index + 1,
          event_id: event.eventId,
          type: event.type,
          data: JSON.stringify(event.data),
          occurred_at: event.occurredAt,
        })),
      )
      .returningAll()
      .execute();
    return rows.map(toStoredEvent);
  } catch (error) {
    // A concurrent append took the same version between our read and our insert. Inside the
    // caller's transaction, which the failed insert has aborted, nothing more can be read, so
    // the conflict reports the least version the stream must now have.
    const { code, constraint } = error as { code?: string; constraint?: string };
    if (code === UNIQUE_VIOLATION && constraint === STREAM_VERSION_CONSTRAINT) {
      const actual = db.isTransaction ? expectedVersion + 1 : await streamVersion(db, streamId);
      throw new ConcurrencyConflict(streamId, expectedVersion, actual);
    }
    throw error;
  }
}

export async function streamVersion(db: Db, streamId: string): Promise<number> {
  const row = await db
    .selectFrom('events')
    .select((eb) => eb.fn.max('stream_version').as('version'))
    .where('stream_id', '=', streamId)
    .executeTakeFirst();
  return row?.version ?? 0;
}

export async function readStream(db: Db, streamId: string): Promise<StoredEvent[]> {
  const rows = await db.selectFrom('events').selectAll().where('stream_id', '=', streamId).orderBy('stream_version').execute();
  return rows.map(toStoredEvent);
}

/**
 * Reads the global log after `position`, stopping below the oldest transaction still in
 * flight: a bigserial is taken at insert but becomes visible at commit, so without that
 * bound a reader could pass a position whose transaction commits later and never see it.
 */
export async function readAll(db: Db, afterPosition: number, limit: number): Promise<StoredEvent[]> {
  const rows = await db
    .selectFrom('events')
    .selectAll()
    .where('global_position', '>', afterPosition)
    .where(sql<boolean>`transaction_id < pg_snapshot_xmin(pg_current_snapshot())`)
    .orderBy('global_position')
    .limit(limit)
    .execute();
  return rows.map(toStoredEvent);
}

/** Whether a committed event lies after `position` (`readAll` may still hold it back while an older transaction is open). */
export async function hasEventsAfter(db: Db, position: number): Promise<boolean> {
  const row = await db.selectFrom('events').select('global_position').where('global_position', '>', position).limit(1).executeTakeFirst();
  return row !== undefined;
}

function toStoredEvent(row: Selectable<EventsTable>): StoredEvent {
  return {
    eventId: row.event_id,
    type: row.type,
    occurredAt: row.occurred_at.toISOString(),
    data: row.data,
    streamId: row.stream_id,
    streamVersion: row.stream_version,
    globalPosition: row.global_position,
  };
}
