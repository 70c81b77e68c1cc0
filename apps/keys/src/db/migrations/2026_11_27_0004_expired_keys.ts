import { sql, type Kysely, type Migration } from 'kysely';

// Frozen: a later change to the schema is a new migration, never an edit of this one.
/**
 * An account's keys still marked active, by expiry, for the list's `status=expired` filter
 * (`status = 'active' and expires_at <= now`). Without it the filter read every key of the
 * account to find the few expired ones (bench/key-scale.ts, 100,007 keys, none expired: a
 * parallel Seq Scan and Sort of 100,008 rows, 69–76 ms through the gateway against 10–11 ms
 * with 10,007 keys). Partial, so revoked keys add nothing to it; keys without an expiry are
 * in it as nulls, which `expires_at <= now` never reads.
 */
export const expiredKeys: Migration = {
  async up(db: Kysely<unknown>) {
    await sql`create index api_keys_active_by_expiry on keys.api_keys (account_id, expires_at) where status = 'active'`.execute(db);
  },
  async down(db: Kysely<unknown>) {
    await sql`drop index keys.api_keys_active_by_expiry`.execute(db);
  },
};
