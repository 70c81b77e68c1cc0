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
  if (!db.isTransaction) return db.transaction().execute((trx) => appendToStream(trx, streamId, expectedVersion, events));
  // Appends take turns, each holding the lock until it commits: a global position is taken only
  // after every lower one has committed or rolled back, so a reader of the global log that sees
  // a position has seen every one below it (see readAll).
  await sql`SELECT pg_advisory_xact_lock(hashtext('event-store.append'))`.execute(db);
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
    // A writer outside appendToStream took the same version (appends themselves take turns).
    // The failed insert has aborted the transaction, so nothing more can be read: the conflict
    // reports the least version the stream must now have.
    const { code, constraint } = error as { code?: string; constraint?: string };
    if (code === UNIQUE_VIOLATION && constraint === STREAM_VERSION_CONSTRAINT) {
      throw new ConcurrencyConflict(streamId, expectedVersion, expectedVersion + 1);
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
 * Reads the global log after `position`. Appends take their positions in commit order (see
 * appendToStream), so no position below one read here can still commit later: a reader may
 * checkpoint at the last event it read. (Bounding the read by the oldest transaction still open
 * would do the same without the lock, but any open transaction on the server, in any database,
 * would hold every reader back, and a position taken before its transaction id could still be
 * passed.)
 */
export async function readAll(db: Db, afterPosition: number, limit: number): Promise<StoredEvent[]> {
  const rows = await db
    .selectFrom('events')
    .selectAll()
    .where('global_position', '>', afterPosition)
    .orderBy('global_position')
    .limit(limit)
    .execute();
  return rows.map(toStoredEvent);
}

/** The position of the first stored event, or null while none is. */
export async function firstPosition(db: Db): Promise<number | null> {
  const row = await db.selectFrom('events').select('global_position').orderBy('global_position').limit(1).executeTakeFirst();
  return row?.global_position ?? null;
}

/** The position of the last stored event, or 0 while none is. */
export async function lastPosition(db: Db): Promise<number> {
  const row = await db.selectFrom('events').select('global_position').orderBy('global_position', 'desc').limit(1).executeTakeFirst();
  return row?.global_position ?? 0;
}

/** The id of the event stored at `position`, or null when none is. */
export async function eventIdAt(db: Db, position: number): Promise<string | null> {
  const row = await db.selectFrom('events').select('event_id').where('global_position', '=', position).executeTakeFirst();
  return row?.event_id ?? null;
}

/** Whether a committed event lies after `position`. */
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
