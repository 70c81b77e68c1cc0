import { sql, type Kysely, type Migration } from 'kysely';

// Frozen. Lets a replica take a block of units ahead of demand for a key that is hot on it
// (a lease it spends in memory), and give back what it did not spend.
export const quotaLeases: Migration = {
  async up(db: Kysely<unknown>) {
    // As consume_quota_batch, plus up to p_leases[i] more units per item once the waiting
    // units are granted. A lease is granted only while at least p_lease_floor units would be
    // left over, and never more than 1/p_lease_share of them, so near a limit every replica is
    // back to counting request by request and few units can sit unspent in another replica.
    await sql`
      CREATE FUNCTION auth.lease_quota_batch(
        p_key_ids text[], p_hour_starts timestamptz[], p_day_starts timestamptz[],
        p_hour_limits integer[], p_day_limits integer[], p_units integer[], p_leases integer[],
        p_lease_floor integer, p_lease_share integer)
      RETURNS TABLE (item integer, hour_used integer, day_used integer, granted integer, leased integer)
      LANGUAGE plpgsql AS $$
      DECLARE
        i integer;
        spare integer;
      BEGIN
        FOR i IN
          SELECT u.ord::integer FROM unnest(p_key_ids, p_hour_starts, p_day_starts) WITH ORDINALITY AS u(k, h, d, ord)
          ORDER BY u.k, u.h, u.d, u.ord
        LOOP
          item := i;
          hour_used := auth.lock_quota_window(p_key_ids[i], 'hour', p_hour_starts[i]);
          day_used := auth.lock_quota_window(p_key_ids[i], 'day', p_day_starts[i]);
          granted := GREATEST(0, LEAST(p_units[i], p_hour_limits[i] - hour_used, p_day_limits[i] - day_used));
          spare := LEAST(p_hour_limits[i] - hour_used, p_day_limits[i] - day_used) - granted;
          leased := CASE WHEN spare >= p_lease_floor THEN LEAST(p_leases[i], spare / p_lease_share) ELSE 0 END;
          IF granted + leased > 0 THEN
            UPDATE auth.quota_windows SET used = used + granted + leased
              WHERE key_id = p_key_ids[i] AND period = 'hour' AND window_start = p_hour_starts[i];
            UPDATE auth.quota_windows SET used = used + granted + leased
              WHERE key_id = p_key_ids[i] AND period = 'day' AND window_start = p_day_starts[i];
          END IF;
          RETURN NEXT;
        END LOOP;
      END
      $$
    `.execute(db);
    // Same lock order as the lease, so a release and a lease never wait on each other in a cycle.
    // A window swept meanwhile has nothing left to give back to.
    await sql`
      CREATE FUNCTION auth.release_quota_batch(
        p_key_ids text[], p_hour_starts timestamptz[], p_day_starts timestamptz[], p_units integer[])
      RETURNS void
      LANGUAGE plpgsql AS $$
      DECLARE
        i integer;
      BEGIN
        FOR i IN
          SELECT u.ord::integer FROM unnest(p_key_ids, p_hour_starts, p_day_starts) WITH ORDINALITY AS u(k, h, d, ord)
          ORDER BY u.k, u.h, u.d, u.ord
        LOOP
          UPDATE auth.quota_windows SET used = GREATEST(0, used - p_units[i])
            WHERE key_id = p_key_ids[i] AND period = 'hour' AND window_start = p_hour_starts[i];
          UPDATE auth.quota_windows SET used = GREATEST(0, used - p_units[i])
            WHERE key_id = p_key_ids[i] AND period = 'day' AND window_start = p_day_starts[i];
        END LOOP;
      END
      $$
    `.execute(db);
    await sql`DROP FUNCTION auth.consume_quota_batch(text[], timestamptz[], timestamptz[], integer[], integer[], integer[])`.execute(db);
  },
  async down(db: Kysely<unknown>) {
    await sql`DROP FUNCTION auth.release_quota_batch(text[], timestamptz[], timestamptz[], integer[])`.execute(db);
    await sql`DROP FUNCTION auth.lease_quota_batch(text[], timestamptz[], timestamptz[], integer[], integer[], integer[], integer[], integer, integer)`.execute(db);
  },
};
