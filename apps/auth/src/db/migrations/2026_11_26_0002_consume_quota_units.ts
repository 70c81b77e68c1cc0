import { sql, type Kysely, type Migration } from 'kysely';

// Frozen. Replaces the one-unit counter call with one that grants up to p_units units, so a
// replica can count every request waiting on a hot key in one round trip and one row lock.
export const consumeQuotaUnits: Migration = {
  async up(db: Kysely<unknown>) {
    // Same lock order as before (hour, then day); grants as many of the units as both windows
    // still hold, and returns the usage before the grant so the caller can number its requests.
    await sql`
      CREATE FUNCTION auth.consume_quota_units(
        p_key_id text, p_hour_start timestamptz, p_day_start timestamptz, p_hour_limit integer, p_day_limit integer,
        p_units integer, OUT hour_used integer, OUT day_used integer, OUT granted integer)
      LANGUAGE plpgsql AS $$
      BEGIN
        hour_used := auth.lock_quota_window(p_key_id, 'hour', p_hour_start);
        day_used := auth.lock_quota_window(p_key_id, 'day', p_day_start);
        granted := GREATEST(0, LEAST(p_units, p_hour_limit - hour_used, p_day_limit - day_used));
        IF granted > 0 THEN
          UPDATE auth.quota_windows SET used = used + granted
            WHERE key_id = p_key_id AND period = 'hour' AND window_start = p_hour_start;
          UPDATE auth.quota_windows SET used = used + granted
            WHERE key_id = p_key_id AND period = 'day' AND window_start = p_day_start;
        END IF;
      END
      $$
    `.execute(db);
    await sql`DROP FUNCTION auth.consume_quota(text, timestamptz, timestamptz, integer, integer)`.execute(db);
  },
  async down(db: Kysely<unknown>) {
    await sql`DROP FUNCTION auth.consume_quota_units(text, timestamptz, timestamptz, integer, integer, integer)`.execute(db);
  },
};
