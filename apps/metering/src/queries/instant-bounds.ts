// Stored times are whole milliseconds (Postgres holds what JavaScript Dates wrote). A bound may
// be written finer (`…00.0005Z`): it is rounded so that no stored time crosses it, and a range is
// backwards only when it is so as written.

/** Digits of the fraction of seconds past the milliseconds, without trailing zeros (`Date.parse` drops them). */
function finerDigits(isoDateTime: string): string {
  return (/T[^.]*\.\d{3}(\d+)/.exec(isoDateTime)?.[1] ?? '').replace(/0+$/, '');
}

/** The first whole millisecond at or after a lower bound: `…00.0005Z` is `…00.001Z`. */
export function firstMillisecondFrom(isoDateTime: string): Date {
  return new Date(Date.parse(isoDateTime) + (finerDigits(isoDateTime) === '' ? 0 : 1));
}

/** The last whole millisecond at or before an upper bound: `…00.0009Z` is `…00.000Z`. */
export function lastMillisecondTo(isoDateTime: string): Date {
  return new Date(Date.parse(isoDateTime));
}

/** Whether `a` is a later instant than `b`, to the last digit written. */
export function isAfter(a: string, b: string): boolean {
  const aMs = Date.parse(a);
  const bMs = Date.parse(b);
  if (aMs !== bMs) return aMs > bMs;
  const [aDigits, bDigits] = [finerDigits(a), finerDigits(b)];
  const length = Math.max(aDigits.length, bDigits.length);
  return aDigits.padEnd(length, '0') > bDigits.padEnd(length, '0');
}
