import { sql, type Kysely, type Migration } from 'kysely';

// Frozen: a later change to the schema is a new migration, never an edit of this one.
/**
 * How far back the retention sweep has deleted raw events, in one row: an event older than that
 * can no longer be recognised by its id, so ingest counts it nowhere rather than twice.
 */
export const retentionWatermark: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .withSchema('metering')
      .createTable('retention')
      .addColumn('singleton', 'boolean', (col) => col.primaryKey().defaultTo(true).check(sql`singleton`))
      .addColumn('swept_before', 'timestamptz', (col) => col.notNull())
      .execute();
  },
  async down(db: Kysely<unknown>) {
    await db.schema.withSchema('metering').dropTable('retention').execute();
  },
};
