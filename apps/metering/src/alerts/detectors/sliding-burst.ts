import { HOUR_MS, windowStart } from '../../windows/utc-window.js';

export interface TimedEvent {
  at: number;
  /** Ingested in this batch: only windows holding a new event are worth reporting. */
  isNew: boolean;
}

export interface Burst {
  /** Index of the first and the last event of the window, in the input order. */
  first: number;
  last: number;
}

/**
 * Every window of less than `windowMs` (sliding, ending at an event) that holds at least
 * `threshold` events, one of them new. `events` must be sorted by time; the window ending
 * at each event reaches back as far as it can, so `last - first + 1` is the count in it.
 */
export function slidingBursts(events: readonly TimedEvent[], windowMs: number, threshold: number): Burst[] {
  const bursts: Burst[] = [];
  let first = 0;
  let lastNew = -1;
  for (let last = 0; last < events.length; last += 1) {
    if (events[last].isNew) lastNew = last;
    while (events[last].at - events[first].at >= windowMs) first += 1;
    if (last - first + 1 >= threshold && lastNew >= first) bursts.push({ first, last });
  }
  return bursts;
}

/**
 * The UTC hours (their start, ms) in which a window holding one of `newTimes` can end: a
 * window holds nothing older than `windowMs` before its last event, so it ends in
 * `[at, at + windowMs)` of each new event it holds.
 */
export function burstEndHours(newTimes: readonly number[], windowMs: number): number[] {
  const hours = new Set<number>();
  for (const at of newTimes) {
    for (let hour = windowStart(at, 'hour'); hour < at + windowMs; hour += HOUR_MS) hours.add(hour);
  }
  return [...hours].sort((a, b) => a - b);
}
