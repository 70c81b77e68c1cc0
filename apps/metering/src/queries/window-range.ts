import { type Granularity, isLaterInstant } from '@keyplane/contracts';
import { isoOf, windowLength, windowStart } from '../windows/utc-window.js';

/** About three months of hours, ten years of days: enough for any chart, small enough for one reply. */
export const MAX_WINDOWS: Record<Granularity, number> = { hour: 24 * 93, day: 3660 };

export type WindowRange = { ok: true; starts: string[] } | { ok: false; details: string };

/**
 * The starts of every UTC hour or day window that overlaps [from, to], both ends included:
 * from 10:30 to 12:00 by hour is 10:00, 11:00 and 12:00.
 */
export function windowRange(from: string, to: string, granularity: Granularity): WindowRange {
  if (isLaterInstant(from, to)) return { ok: false, details: 'from: must not be after to' };
  // The window an instant falls in is the one its millisecond (Date.parse drops finer digits) falls in.
  const first = windowStart(Date.parse(from), granularity);
  const last = windowStart(Date.parse(to), granularity);
  const length = windowLength(granularity);
  const count = (last - first) / length + 1;
  if (count > MAX_WINDOWS[granularity]) {
    return { ok: false, details: `from: the range spans ${count} ${granularity === 'hour' ? 'hourly' : 'daily'} windows, at most ${MAX_WINDOWS[granularity]} are allowed` };
  }
  return { ok: true, starts: Array.from({ length: count }, (_, index) => isoOf(first + index * length)) };
}
