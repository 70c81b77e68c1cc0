import { sql, type Kysely } from 'kysely';
import type { RateLimits } from '@keyplane/contracts';
import type { AuthDatabase } from '../db/schema.js';
import type { Grant } from './split-grant.js';
import { windowsAt } from './windows.js';

/** Requests of one key, in one pair of windows under one set of limits, to count together. */
export interface QuotaItem {
  keyId: string;
  limits: RateLimits;
  now: number;
  units: number;
}

interface GrantRow {
  item: number;
  hour_used: number;
  day_used: number;
  granted: number;
}

const DEADLOCK = '40P01';

/**
 * Counts a batch of items against their keys' hour and day windows in one round trip and one
 * transaction on the counter every auth replica shares, so no window admits more than its
 * limit however many replicas run. Returns one grant per item, in the items' order.
 */
export async function consumeBatch(db: Kysely<AuthDatabase>, items: QuotaItem[]): Promise<Grant[]> {
  try {
    return await callConsumeBatch(db, items);
  } catch (error) {
    // Batches lock in one global order, but two items of one key that straddle an hour
    // boundary can still meet another replica's batch head on; Postgres aborts one of them.
    if ((error as { code?: string }).code !== DEADLOCK) throw error;
    return callConsumeBatch(db, items);
  }
}

async function callConsumeBatch(db: Kysely<AuthDatabase>, items: QuotaItem[]): Promise<Grant[]> {
  const windows = items.map((item) => windowsAt(item.now));
  const { rows } = await sql<GrantRow>`
    SELECT item, hour_used, day_used, granted FROM auth.consume_quota_batch(
      ${items.map((item) => item.keyId)}::text[],
      ${windows.map((w) => new Date(w.hourStart).toISOString())}::timestamptz[],
      ${windows.map((w) => new Date(w.dayStart).toISOString())}::timestamptz[],
      ${items.map((item) => item.limits.hour)}::integer[],
      ${items.map((item) => item.limits.day)}::integer[],
      ${items.map((item) => item.units)}::integer[])
  `.execute(db);
  const grants: Grant[] = new Array(items.length);
  for (const row of rows) {
    grants[row.item - 1] = { hourUsedBefore: row.hour_used, dayUsedBefore: row.day_used, granted: row.granted };
  }
  return grants;
}
