import { sql, type Kysely, type Migration } from 'kysely';

// Frozen: a later change to the schema is a new migration, never an edit of this one.
/**
 * A number each ingest batch takes under the ingest lock. A replica that took the one after its
 * own last batch's knows no other batch (another replica's) wrote in between, so what it keeps
 * in memory of the windows it wrote still matches Postgres (alerts/hour-history.ts). A sequence
 * is never rolled back: a batch that fails still takes its number, and the next one reads afresh.
 */
export const ingestTurns: Migration = {
  async up(db: Kysely<unknown>) {
    await sql`CREATE SEQUENCE metering.ingest_turns`.execute(db);
  },
  async down(db: Kysely<unknown>) {
    await sql`DROP SEQUENCE metering.ingest_turns`.execute(db);
  },
};
