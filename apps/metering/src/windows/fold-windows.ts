import type { Granularity, Outcome } from '@keyplane/contracts';
import { getOrCreate } from '@keyplane/runtime';
import { isoOf, windowStart } from './utc-window.js';

export interface WindowIncrement {
  keyId: string;
  accountId: string | null;
  granularity: Granularity;
  windowStart: string;
  requests: number;
  allowed: number;
  forbidden: number;
  rateLimited: number;
  unauthorized: number;
}

export interface CountedEvent {
  keyId: string | null;
  accountId: string | null;
  occurredAt: string;
  outcome: Outcome;
}

const GRANULARITIES: readonly Granularity[] = ['hour', 'day'];

const outcomeField = {
  allowed: 'allowed',
  forbidden: 'forbidden',
  rate_limited: 'rateLimited',
  unauthorized: 'unauthorized',
} as const satisfies Record<Outcome, keyof WindowIncrement>;

/**
 * Sums events into one increment per key, granularity and window of their own occurredAt,
 * so a late event lands in its past window. Events of unknown keys have no window.
 * Sorted by primary key so concurrent upserts lock rows in the same order.
 */
export function foldWindows(events: readonly CountedEvent[]): WindowIncrement[] {
  const byWindow = new Map<string, WindowIncrement>();
  // A batch's events fall in one or two hours and days: each start is written out once.
  const starts = new Map<number, string>();
  for (const event of events) {
    if (event.keyId === null) continue;
    const at = Date.parse(event.occurredAt);
    for (const granularity of GRANULARITIES) {
      const startMs = windowStart(at, granularity);
      const start = getOrCreate(starts, startMs, () => isoOf(startMs));
      const id = `${event.keyId}|${granularity}|${start}`;
      let window = byWindow.get(id);
      if (!window) {
        window = { keyId: event.keyId, accountId: event.accountId, granularity, windowStart: start, requests: 0, allowed: 0, forbidden: 0, rateLimited: 0, unauthorized: 0 };
        byWindow.set(id, window);
      }
      window.requests += 1;
      window[outcomeField[event.outcome]] += 1;
    }
  }
  return [...byWindow.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, window]) => window);
}
