import { sql, type Kysely, type Migration } from 'kysely';

/** The event store's tables in `schema`, as a migration the owning service runs first. */
export function eventStoreMigration(schema: string): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.createSchema(schema).ifNotExists().execute();
      await db.schema
        .withSchema(schema)
        .createTable('events')
        .addColumn('global_position', 'bigserial', (col) => col.primaryKey())
        .addColumn('stream_id', 'text', (col) => col.notNull())
        .addColumn('stream_version', 'integer', (col) => col.notNull())
        .addColumn('event_id', 'text', (col) => col.notNull().unique())
        .addColumn('type', 'text', (col) => col.notNull())
        .addColumn('data', 'jsonb', (col) => col.notNull())
        .addColumn('occurred_at', 'timestamptz', (col) => col.notNull())
        .addColumn('transaction_id', sql`xid8`, (col) => col.notNull().defaultTo(sql`pg_current_xact_id()`))
        .addUniqueConstraint('events_stream_version_unique', ['stream_id', 'stream_version'])
        .execute();
      await db.schema
        .withSchema(schema)
        .createTable('outbox_checkpoints')
        .addColumn('name', 'text', (col) => col.primaryKey())
        .addColumn('position', 'bigint', (col) => col.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.withSchema(schema).dropTable('outbox_checkpoints').execute();
      await db.schema.withSchema(schema).dropTable('events').execute();
    },
  };
}
