import { sql, type Kysely, type Migration } from 'kysely';

// Frozen. Counts a whole batch of waiting requests, for many keys, in one transaction: one
// commit (one WAL flush) per batch instead of one per key.
export const consumeQuotaBatch: Migration = {
  async up(db: Kysely<unknown>) {
    // Items are taken in (key, hour window, day window) order, and each item locks its hour
    // row before its day row, so every batch on every replica takes locks in one global order.
    // Items of one key share its rows and are granted one after the other within the batch.
    await sql`
      CREATE FUNCTION auth.consume_quota_batch(
        p_key_ids text[], p_hour_starts timestamptz[], p_day_starts timestamptz[],
        p_hour_limits integer[], p_day_limits integer[], p_units integer[])
      RETURNS TABLE (item integer, hour_used integer, day_used integer, granted integer)
      LANGUAGE plpgsql AS $$
      DECLARE
        i integer;
      BEGIN
        FOR i IN
          SELECT u.ord::integer FROM unnest(p_key_ids, p_hour_starts, p_day_starts) WITH ORDINALITY AS u(k, h, d, ord)
          ORDER BY u.k, u.h, u.d, u.ord
        LOOP
          item := i;
          hour_used := auth.lock_quota_window(p_key_ids[i], 'hour', p_hour_starts[i]);
          day_used := auth.lock_quota_window(p_key_ids[i], 'day', p_day_starts[i]);
          granted := GREATEST(0, LEAST(p_units[i], p_hour_limits[i] - hour_used, p_day_limits[i] - day_used));
          IF granted > 0 THEN
            UPDATE auth.quota_windows SET used = used + granted
              WHERE key_id = p_key_ids[i] AND period = 'hour' AND window_start = p_hour_starts[i];
            UPDATE auth.quota_windows SET used = used + granted
              WHERE key_id = p_key_ids[i] AND period = 'day' AND window_start = p_day_starts[i];
          END IF;
          RETURN NEXT;
        END LOOP;
      END
      $$
    `.execute(db);
    await sql`DROP FUNCTION auth.consume_quota_units(text, timestamptz, timestamptz, integer, integer, integer)`.execute(db);
  },
  async down(db: Kysely<unknown>) {
    await sql`DROP FUNCTION auth.consume_quota_batch(text[], timestamptz[], timestamptz[], integer[], integer[], integer[])`.execute(db);
  },
};
