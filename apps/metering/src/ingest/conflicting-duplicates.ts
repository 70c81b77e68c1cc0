import type { Kysely } from 'kysely';
import type { UsageRecorded } from '@keyplane/contracts';
import type { Database, UsageEventsTable } from '../db/schema.js';
import type { ColumnValue, UnnestColumn } from '../db/unnest-rows.js';

type EventColumns<Row> = Partial<Record<keyof UsageEventsTable, UnnestColumn<Row>>>;

/**
 * What a stored row and an event have in common, in one spelling: a time is an instant however
 * it was written (`+02:00`, no milliseconds), a number whether the driver gives it as a string,
 * and text as Postgres keeps it (a lone surrogate becomes U+FFFD).
 */
function comparable(type: UnnestColumn<unknown>['type'], value: ColumnValue | Date): string | number | null {
  if (value === null) return null;
  if (type === 'timestamptz') return value instanceof Date ? value.getTime() : Date.parse(String(value));
  if (type === 'bigint') return Number(value);
  return Buffer.from(String(value), 'utf8').toString('utf8');
}

/** The columns whose values differ, by name only: the values may be anything a client sent. */
function differingColumns<Row>(columns: EventColumns<Row>, stored: Partial<Record<keyof UsageEventsTable, ColumnValue | Date>>, row: Row): string[] {
  return Object.entries(columns)
    .filter(([name, column]) => name !== 'stream_seq' && comparable(column.type, column.of(row)) !== comparable(column.type, stored[name as keyof UsageEventsTable] ?? null))
    .map(([name]) => name);
}

/**
 * Events are immutable, so an id that arrives again must bring the same event: a redelivery.
 * One that brings another is kept out of the counts like any duplicate (the first stays), but
 * never silently: these are the repeats whose content differs from what is stored, with the
 * columns that differ.
 */
export async function conflictingDuplicates<Repeat extends { event: UsageRecorded }>(
  trx: Kysely<Database>,
  columns: EventColumns<Repeat>,
  repeats: readonly Repeat[],
): Promise<{ repeat: Repeat; columns: string[] }[]> {
  if (repeats.length === 0) return [];
  const stored = await trx
    .selectFrom('usage_events')
    .selectAll()
    .where(
      'event_id',
      'in',
      repeats.map(({ event }) => event.eventId),
    )
    .execute();
  const byId = new Map(stored.map((row) => [row.event_id, row]));
  return repeats.flatMap((repeat) => {
    const row = byId.get(repeat.event.eventId);
    const differing = row ? differingColumns(columns, row, repeat) : [];
    return differing.length > 0 ? [{ repeat, columns: differing }] : [];
  });
}
