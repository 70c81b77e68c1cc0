import type { ColumnType, Generated } from 'kysely';

/** The event store's tables; a service mounts them in its own schema. */
export interface EventsTable {
  global_position: Generated<number>;
  stream_id: string;
  stream_version: number;
  event_id: string;
  type: string;
  data: ColumnType<unknown, string, string>;
  occurred_at: ColumnType<Date, string, string>;
  /** The appending transaction, kept for investigation; readers rely on appends taking turns instead. */
  transaction_id: Generated<string>;
}

export interface OutboxCheckpointsTable {
  name: string;
  position: number;
}

export interface EventStoreTables {
  events: EventsTable;
  outbox_checkpoints: OutboxCheckpointsTable;
}
