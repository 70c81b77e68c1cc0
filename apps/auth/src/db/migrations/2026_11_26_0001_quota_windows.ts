import { sql, type Kysely, type Migration } from 'kysely';

// Frozen: a later change to quotas gets a new migration, never an edit here.
export const quotaWindows: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.createSchema('auth').ifNotExists().execute();
    // fillfactor leaves room on each page so the hot `used` increments stay HOT updates.
    await sql`
      CREATE TABLE auth.quota_windows (
        key_id text NOT NULL,
        period text NOT NULL CHECK (period IN ('hour', 'day')),
        window_start timestamptz NOT NULL,
        used integer NOT NULL DEFAULT 0,
        PRIMARY KEY (key_id, period, window_start)
      ) WITH (fillfactor = 70)
    `.execute(db);

    await sql`
      CREATE FUNCTION auth.lock_quota_window(p_key_id text, p_period text, p_start timestamptz)
      RETURNS integer
      LANGUAGE plpgsql AS $$
      DECLARE
        v_used integer;
      BEGIN
        SELECT used INTO v_used FROM auth.quota_windows
          WHERE key_id = p_key_id AND period = p_period AND window_start = p_start
          FOR UPDATE;
        IF NOT FOUND THEN
          -- A concurrent first request may insert the same row: ON CONFLICT waits for it, then we lock its row.
          INSERT INTO auth.quota_windows (key_id, period, window_start, used)
            VALUES (p_key_id, p_period, p_start, 0)
            ON CONFLICT DO NOTHING;
          SELECT used INTO v_used FROM auth.quota_windows
            WHERE key_id = p_key_id AND period = p_period AND window_start = p_start
            FOR UPDATE;
        END IF;
        RETURN v_used;
      END
      $$
    `.execute(db);

    // One round trip per decision. Rows are locked hour first, then day, in every call, so
    // concurrent calls on one key queue up instead of deadlocking; a request that either
    // window rejects increments neither.
    await sql`
      CREATE FUNCTION auth.consume_quota(
        p_key_id text, p_hour_start timestamptz, p_day_start timestamptz, p_hour_limit integer, p_day_limit integer,
        OUT hour_used integer, OUT day_used integer, OUT admitted boolean)
      LANGUAGE plpgsql AS $$
      BEGIN
        hour_used := auth.lock_quota_window(p_key_id, 'hour', p_hour_start);
        day_used := auth.lock_quota_window(p_key_id, 'day', p_day_start);
        admitted := hour_used < p_hour_limit AND day_used < p_day_limit;
        IF admitted THEN
          UPDATE auth.quota_windows SET used = used + 1
            WHERE key_id = p_key_id AND period = 'hour' AND window_start = p_hour_start;
          UPDATE auth.quota_windows SET used = used + 1
            WHERE key_id = p_key_id AND period = 'day' AND window_start = p_day_start;
          hour_used := hour_used + 1;
          day_used := day_used + 1;
        END IF;
      END
      $$
    `.execute(db);
  },
  async down(db: Kysely<unknown>) {
    await sql`DROP FUNCTION auth.consume_quota(text, timestamptz, timestamptz, integer, integer)`.execute(db);
    await sql`DROP FUNCTION auth.lock_quota_window(text, text, timestamptz)`.execute(db);
    await sql`DROP TABLE auth.quota_windows`.execute(db);
  },
};
