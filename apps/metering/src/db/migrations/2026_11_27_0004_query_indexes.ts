import { sql, type Kysely, type Migration } from 'kysely';

// Frozen: a later change to the schema is a new migration, never an edit of this one.
/**
 * Indexes that let the read side find exactly the rows it answers with once the tables are large
 * (bench/metering-queries.ts, 3,000,000 events):
 *
 * - The retention sweep's index on `occurred_at` becomes one on `occurred_at AT TIME ZONE 'UTC'`
 *   (the same order), which only the sweep's query names. A key's events newest first could be
 *   read off the plain index too, walking every key's events backwards and keeping the key's, and
 *   the planner took that path whenever it expected the key to be common: for a key idle for
 *   three days that had 10 % of the traffic before, it read the 291,243 newer events of other
 *   keys (70–130 ms) to answer the first page; filtered by an outcome the hot key never had, all
 *   3,000,000 (1–2 s). `usage_events_key_time` reads the key's own events only.
 * - A key's events by outcome, newest first: one outcome rare in a busy key (a 429 among
 *   allowed requests, a 401 it never had) no longer means reading the key's other events.
 * - Postgres learns that a key id determines its account id: the queries name both, and taken as
 *   independent they made a key look up to 100 times rarer than it is (a sort of all its events
 *   instead of reading the first page in order).
 * - An account's alerts by key, by type, and by both, newest first: the filters no longer read
 *   every alert of the account (17,807 for 5 in a year of a busy account's alerts), nor every
 *   alert of a busy key for the few of one type.
 *
 * Built without CONCURRENTLY (migrations run in a transaction): ingest waits for the builds,
 * about 20 s on 3,000,000 events, while queries go on; the usage stream holds what arrives.
 */
export const queryIndexes: Migration = {
  async up(db: Kysely<unknown>) {
    await sql`CREATE INDEX usage_events_retention ON metering.usage_events ((occurred_at AT TIME ZONE 'UTC'))`.execute(db);
    await sql`DROP INDEX metering.usage_events_occurred_at`.execute(db);
    await sql`CREATE INDEX usage_events_key_outcome_time ON metering.usage_events (key_id, outcome, occurred_at DESC, event_id DESC)`.execute(db);
    await sql`CREATE STATISTICS metering.usage_events_key_account (dependencies) ON key_id, account_id FROM metering.usage_events`.execute(db);
    await sql`CREATE INDEX alerts_account_key_time ON metering.alerts (account_id, key_id, detected_at DESC, id DESC)`.execute(db);
    await sql`CREATE INDEX alerts_account_type_time ON metering.alerts (account_id, type, detected_at DESC, id DESC)`.execute(db);
    await sql`CREATE INDEX alerts_account_key_type_time ON metering.alerts (account_id, key_id, type, detected_at DESC, id DESC)`.execute(db);
  },
  async down(db: Kysely<unknown>) {
    await sql`DROP INDEX metering.alerts_account_key_type_time`.execute(db);
    await sql`DROP INDEX metering.alerts_account_type_time`.execute(db);
    await sql`DROP INDEX metering.alerts_account_key_time`.execute(db);
    await sql`DROP STATISTICS metering.usage_events_key_account`.execute(db);
    await sql`DROP INDEX metering.usage_events_key_outcome_time`.execute(db);
    await sql`CREATE INDEX usage_events_occurred_at ON metering.usage_events (occurred_at)`.execute(db);
    await sql`DROP INDEX metering.usage_events_retention`.execute(db);
  },
};
