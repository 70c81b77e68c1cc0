import { sql, type Kysely } from 'kysely';
import type { RateLimits } from '@keyplane/contracts';
import type { AuthDatabase } from '../db/schema.js';
import type { QuotaResult } from '../decision/decide.js';
import { windowsAt } from './windows.js';

interface ConsumeRow {
  hour_used: number;
  day_used: number;
  admitted: boolean;
}

/**
 * Counts one request against the key's hour and day windows, in one round trip to the
 * counter every auth replica shares, so no window admits more than its limit however many
 * replicas run. The limits are the key's at decision time: a change applies from the next request.
 */
export async function consumeQuota(db: Kysely<AuthDatabase>, keyId: string, limits: RateLimits, now: number): Promise<QuotaResult> {
  const { hourStart, dayStart } = windowsAt(now);
  const { rows } = await sql<ConsumeRow>`
    SELECT hour_used, day_used, admitted FROM auth.consume_quota(
      ${keyId}, ${new Date(hourStart).toISOString()}::timestamptz, ${new Date(dayStart).toISOString()}::timestamptz,
      ${limits.hour}::integer, ${limits.day}::integer)
  `.execute(db);
  const [row] = rows;
  return { admitted: row.admitted, hourUsed: row.hour_used, dayUsed: row.day_used };
}
