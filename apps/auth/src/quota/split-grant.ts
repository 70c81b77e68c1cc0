import type { QuotaResult } from '../decision/decide.js';

/** What the shared counter answered for a batch: usage before it, and how many units it granted. */
export interface Grant {
  hourUsedBefore: number;
  dayUsedBefore: number;
  /** Units for the requests that are waiting. */
  granted: number;
  /** Units on top, for this replica to spend in memory (see lease.ts). */
  leased: number;
}

/**
 * Hands a batch's grant out to its requests in arrival order: the first `granted` are counted,
 * each seeing the usage right after itself; the rest are turned away and count nothing, seeing
 * the usage the grant left.
 */
export function splitGrant(grant: Grant, requests: number): QuotaResult[] {
  return Array.from({ length: requests }, (_, index) =>
    index < grant.granted
      ? { admitted: true, hourUsed: grant.hourUsedBefore + index + 1, dayUsed: grant.dayUsedBefore + index + 1 }
      : { admitted: false, hourUsed: grant.hourUsedBefore + grant.granted, dayUsed: grant.dayUsedBefore + grant.granted },
  );
}
