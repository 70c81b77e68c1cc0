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
  /** Units wanted on top, to spend in memory on requests still to come (a lease). */
  lease?: number;
  /**
   * Units leased for any key under windows or limits no longer in use, to give back before the
   * batch counts (see BatchingQuota's `supersede`): `consumeBatch` leaves them to its caller.
   */
  giveBack?: QuotaRelease[];
}

/** Units of a lease a replica gives back unspent: the windows are those of `now`. */
export interface QuotaRelease {
  keyId: string;
  now: number;
  units: number;
}

/** Leases are granted only while at least this many units would be left in both windows... */
export const LEASE_FLOOR = 256;
/** ...and take at most this fraction of them, so little can sit unspent in other replicas. */
export const LEASE_SHARE = 16;

interface GrantRow {
  item: number;
  hour_used: number;
  day_used: number;
  granted: number;
  leased: number;
}

const DEADLOCK = '40P01';

/**
 * Counts a batch of items against their keys' hour and day windows in one round trip and one
 * transaction on the counter every auth replica shares, so no window admits more than its
 * limit however many replicas run. Returns one grant per item, in the items' order.
 */
export function consumeBatch(db: Kysely<AuthDatabase>, items: QuotaItem[]): Promise<Grant[]> {
  return retryDeadlockOnce(() => callLeaseBatch(db, items));
}

/** Gives unspent leased units back to their windows, in one round trip. */
export function releaseBatch(db: Kysely<AuthDatabase>, releases: QuotaRelease[]): Promise<void> {
  return retryDeadlockOnce(async () => {
    const windows = releases.map((release) => windowsAt(release.now));
    await sql`
      SELECT auth.release_quota_batch(
        ${releases.map((release) => release.keyId)}::text[],
        ${windows.map((w) => new Date(w.hourStart).toISOString())}::timestamptz[],
        ${windows.map((w) => new Date(w.dayStart).toISOString())}::timestamptz[],
        ${releases.map((release) => release.units)}::integer[])
    `.execute(db);
  });
}

async function retryDeadlockOnce<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    // Batches lock in one global order, but two items of one key that straddle an hour
    // boundary can still meet another replica's batch head on; Postgres aborts one of them.
    if ((error as { code?: string }).code !== DEADLOCK) throw error;
    return call();
  }
}

async function callLeaseBatch(db: Kysely<AuthDatabase>, items: QuotaItem[]): Promise<Grant[]> {
  const windows = items.map((item) => windowsAt(item.now));
  const { rows } = await sql<GrantRow>`
    SELECT item, hour_used, day_used, granted, leased FROM auth.lease_quota_batch(
      ${items.map((item) => item.keyId)}::text[],
      ${windows.map((w) => new Date(w.hourStart).toISOString())}::timestamptz[],
      ${windows.map((w) => new Date(w.dayStart).toISOString())}::timestamptz[],
      ${items.map((item) => item.limits.hour)}::integer[],
      ${items.map((item) => item.limits.day)}::integer[],
      ${items.map((item) => item.units)}::integer[],
      ${items.map((item) => item.lease ?? 0)}::integer[],
      ${LEASE_FLOOR}::integer, ${LEASE_SHARE}::integer)
  `.execute(db);
  const grants: Grant[] = new Array(items.length);
  for (const row of rows) {
    grants[row.item - 1] = { hourUsedBefore: row.hour_used, dayUsedBefore: row.day_used, granted: row.granted, leased: row.leased };
  }
  return grants;
}
