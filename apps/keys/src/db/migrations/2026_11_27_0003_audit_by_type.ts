import { sql, type Kysely, type Migration } from 'kysely';

// Frozen: a later change to the schema is a new migration, never an edit of this one.
/**
 * An account's events of one type, newest first, for the audit query's `type` filter
 * (bench/keys-audit-queries.ts: 316,748 events, 200,000 keys in one account). On the account's
 * index alone a rare type meant reading the account's other events to fill a page: 13,513 rows
 * for 100 `KeyRateLimitsChanged`, and every event of the store (a sequential scan, 80 ms) for a
 * page of `KeyRenamed` from a cursor 30 days back; a type the account never had reads them all.
 * The other filters need nothing more: `keyId` reads the key's own stream through
 * `events_stream_version_unique`, `from`, `to` and cursors are ranges of `events_by_account`.
 *
 * Every append writes one more index entry (about 100 bytes an event: 31 MB on 316,748). A
 * one-event append committed on its own took 0.58–0.65 ms with it and 0.56–0.67 ms without
 * (alternated), and an issue command 2.8–4.5 ms either way: lost in the noise. Built without
 * CONCURRENTLY (migrations run in a transaction): commands wait for the build, 1.1 s on 316,748
 * events.
 */
export const auditByType: Migration = {
  async up(db: Kysely<unknown>) {
    await sql`create index events_by_account_type on keys.events ((data->>'accountId'), type, occurred_at desc, global_position desc)`.execute(db);
  },
  async down(db: Kysely<unknown>) {
    await sql`drop index keys.events_by_account_type`.execute(db);
  },
};
