// Times cross the services as ISO 8601 text, stored in whole milliseconds. A range's ends may be
// written finer (`…00.0005Z`): compared as written, to the nanosecond, the finest any clock writes.

/**
 * Digits of the fraction of seconds past the milliseconds (`Date.parse` drops them), down to the
 * nanosecond, without trailing zeros: digits past the ninth are dropped, which keeps the order of
 * any two times and bounds the text that travels.
 */
export function subMillisecondDigits(isoDateTime: string): string {
  return (/T[^.]*\.\d{3}(\d{1,6})/.exec(isoDateTime)?.[1] ?? '').replace(/0+$/, '');
}

/** Whether `a` is a later instant than `b`, to the nanosecond (both valid ISO 8601 date-times). */
export function isLaterInstant(a: string, b: string): boolean {
  const aMs = Date.parse(a);
  const bMs = Date.parse(b);
  if (aMs !== bMs) return aMs > bMs;
  const [aDigits, bDigits] = [subMillisecondDigits(a), subMillisecondDigits(b)];
  const length = Math.max(aDigits.length, bDigits.length);
  return aDigits.padEnd(length, '0') > bDigits.padEnd(length, '0');
}
