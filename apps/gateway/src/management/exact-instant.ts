import { z } from 'zod';
import { isLaterInstant, subMillisecondDigits } from '@keyplane/contracts';
import type { Checked } from './query-input.js';
import { dateTimeParam } from './query-params.js';

/**
 * An ISO 8601 date-time in UTC to the nanosecond: `…T11:00:00.0005+01:00` is `…T10:00:00.0005Z`.
 * Offsets are whole minutes, so the digits past the millisecond carry over as written.
 */
export function utcInstant(isoDateTime: string): string {
  const utc = new Date(Date.parse(isoDateTime)).toISOString();
  return `${utc.slice(0, -1)}${subMillisecondDigits(isoDateTime)}Z`;
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
  return from === undefined || to === undefined || !isLaterInstant(from, to) ? checked : FROM_AFTER_TO;
}
