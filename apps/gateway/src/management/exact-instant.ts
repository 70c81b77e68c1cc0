import { z } from 'zod';
import type { Checked } from './query-input.js';
import { dateTimeParam } from './query-params.js';

/**
 * Digits of the fraction of seconds past the milliseconds (`Date.parse` drops them) down to the
 * nanosecond, the finest any clock writes, without trailing zeros. Dropping the rest keeps the
 * order of any two times and bounds the text metering receives.
 */
function finerDigits(isoDateTime: string): string {
  return (/T[^.]*\.\d{3}(\d{1,6})/.exec(isoDateTime)?.[1] ?? '').replace(/0+$/, '');
}

/**
 * An ISO 8601 date-time in UTC to the nanosecond: `…T11:00:00.0005+01:00` is `…T10:00:00.0005Z`.
 * Offsets are whole minutes, so the digits past the millisecond carry over as written.
 */
export function utcInstant(isoDateTime: string): string {
  const utc = new Date(Date.parse(isoDateTime)).toISOString();
  return `${utc.slice(0, -1)}${finerDigits(isoDateTime)}Z`;
}

/** Whether `a` is a later instant than `b`, to the nanosecond (both valid ISO 8601 date-times). */
export function isAfter(a: string, b: string): boolean {
  const aMs = Date.parse(a);
  const bMs = Date.parse(b);
  if (aMs !== bMs) return aMs > bMs;
  const [aDigits, bDigits] = [finerDigits(a), finerDigits(b)];
  const length = Math.max(aDigits.length, bDigits.length);
  return aDigits.padEnd(length, '0') > bDigits.padEnd(length, '0');
}

const checkedDateTime = dateTimeParam('down');

/**
 * A date-time refused exactly as `dateTimeParam` refuses one, but passed on in UTC to the
 * nanosecond (`utcInstant`) rather than rounded to milliseconds: for a bound whose rounding is the
 * receiver's to do (metering's usage events, where rounding both ends of a range inside one
 * millisecond would turn it around).
 */
export const exactDateTimeParam = z.unknown().transform((value, ctx) => {
  const checked = checkedDateTime.safeParse(value);
  if (checked.success) return utcInstant(value as string);
  for (const issue of checked.error.issues) ctx.addIssue({ code: 'custom', message: issue.message });
  return z.NEVER;
});

const FROM_AFTER_TO = { ok: false, details: 'from: must not be after to' } as const;

/**
 * A range given with both ends must not run backwards, to the nanosecond: check the ends before
 * any rounding to milliseconds, which could turn `from=…00.0009Z&to=…00.0005Z` into an empty range.
 */
export function fromNotAfterTo<T extends { from?: string; to?: string }>(checked: Checked<T>): Checked<T> {
  if (!checked.ok) return checked;
  const { from, to } = checked.value;
  return from === undefined || to === undefined || !isAfter(from, to) ? checked : FROM_AFTER_TO;
}
