import type { Kysely } from 'kysely';
import type { UsageWindow, UsageWindows, UsageWindowsRequest } from '@keyplane/contracts';
import type { Database } from '../db/schema.js';

/** The key's windows at `starts`, zeros where it made no request. */
export async function usageWindows(db: Kysely<Database>, request: UsageWindowsRequest, starts: readonly string[]): Promise<UsageWindows> {
  const rows = await db
    .selectFrom('usage_windows')
    .select(['window_start', 'requests', 'allowed', 'forbidden', 'rate_limited', 'unauthorized'])
    .where('key_id', '=', request.keyId)
    .where('account_id', '=', request.accountId)
    .where('granularity', '=', request.granularity)
    .where('window_start', '>=', new Date(starts[0]))
    .where('window_start', '<=', new Date(starts[starts.length - 1]))
    .execute();
  const byStart = new Map(rows.map((row) => [row.window_start.toISOString(), row]));
  const data = starts.map((start): UsageWindow => {
    const row = byStart.get(start);
    return {
      start,
      requests: row?.requests ?? 0,
      allowed: row?.allowed ?? 0,
      forbidden: row?.forbidden ?? 0,
      rateLimited: row?.rate_limited ?? 0,
      unauthorized: row?.unauthorized ?? 0,
    };
  });
  return { keyId: request.keyId, granularity: request.granularity, data };
}
