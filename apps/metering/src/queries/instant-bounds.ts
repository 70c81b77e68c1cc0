import { subMillisecondDigits } from '@keyplane/contracts';

// Stored times are whole milliseconds (Postgres holds what JavaScript Dates wrote). A bound may
// be written finer (`…00.0005Z`): it is rounded so that no stored time crosses it, and a range is
// backwards only when it is so as written.

/** The first whole millisecond at or after a lower bound: `…00.0005Z` is `…00.001Z`. */
export function firstMillisecondFrom(isoDateTime: string): Date {
  return new Date(Date.parse(isoDateTime) + (subMillisecondDigits(isoDateTime) === '' ? 0 : 1));
}

/** The last whole millisecond at or before an upper bound: `…00.0009Z` is `…00.000Z`. */
export function lastMillisecondTo(isoDateTime: string): Date {
  return new Date(Date.parse(isoDateTime));
}
