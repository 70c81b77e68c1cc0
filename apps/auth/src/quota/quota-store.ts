import { sql, type Kysely } from 'kysely';
import type { RateLimits } from '@keyplane/contracts';
import type { AuthDatabase } from '../db/schema.js';
import type { Grant } from './split-grant.js';
import { windowsAt } from './windows.js';

interface ConsumeRow {
  hour_used: number;
  day_used: number;
  granted: number;
}

/**
 * Counts up to `units` requests against the key's hour and day windows, in one round trip to
 * the counter every auth replica shares, so no window admits more than its limit however many
 * replicas run. The limits are the key's at decision time: a change applies from the next request.
 */
export async function consumeUnits(db: Kysely<AuthDatabase>, keyId: string, limits: RateLimits, now: number, units: number): Promise<Grant> {
  const { hourStart, dayStart } = windowsAt(now);
  const { rows } = await sql<ConsumeRow>`
    SELECT hour_used, day_used, granted FROM auth.consume_quota_units(
      ${keyId}, ${new Date(hourStart).toISOString()}::timestamptz, ${new Date(dayStart).toISOString()}::timestamptz,
      ${limits.hour}::integer, ${limits.day}::integer, ${units}::integer)
  `.execute(db);
  const [row] = rows;
  return { hourUsedBefore: row.hour_used, dayUsedBefore: row.day_used, granted: row.granted };
}
