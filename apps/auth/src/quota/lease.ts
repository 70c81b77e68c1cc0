import type { QuotaResult } from '../decision/decide.js';
import type { Grant } from './split-grant.js';

/**
 * Units of one key's windows that the shared counter has already counted for this replica,
 * to hand out to its next requests without a round trip. Each unit keeps its place in the
 * window, so a request spent from a lease sees the usage right after itself, as if it had
 * been counted alone.
 */
export interface Lease {
  hourUsed: number;
  dayUsed: number;
  left: number;
}

/** The lease a grant carries: its units come right after the ones granted to waiting requests. */
export function leaseOf(grant: Grant): Lease {
  return { hourUsed: grant.hourUsedBefore + grant.granted, dayUsed: grant.dayUsedBefore + grant.granted, left: grant.leased };
}

/** Spends one unit of a lease that has one left. */
export function spend(lease: Lease): QuotaResult {
  lease.left--;
  return { admitted: true, hourUsed: ++lease.hourUsed, dayUsed: ++lease.dayUsed };
}

/** Refills closer together than this mean the key is hot here: the next lease doubles. */
export const HOT_REFILL_MS = 250;
/** Refills further apart than this mean it cooled down: the next lease halves. */
export const COOL_REFILL_MS = 1000;

/**
 * The size of the next lease, from the last one and the time since the last refill: like a
 * congestion window, it grows while the key keeps coming back for more and shrinks when it
 * does not, so units are leased roughly in proportion to the key's rate on this replica. A key
 * that comes back within a second leases at least one unit.
 */
export function nextLeaseSize(previous: number, sinceLastRefillMs: number, max: number): number {
  if (sinceLastRefillMs < HOT_REFILL_MS) return Math.min(max, Math.max(1, previous * 2));
  if (sinceLastRefillMs > COOL_REFILL_MS) return Math.floor(previous / 2);
  return Math.min(max, Math.max(1, previous));
}
