import { z } from 'zod';
import { isStorableInstant, PageLimit, STORABLE_INSTANT } from '@keyplane/contracts';

// Query-string values shared by the management endpoints, so a parameter that means the same
// thing is checked, and refused, the same way everywhere.

export const limitParam = z
  .string()
  .regex(/^\d{1,4}$/, 'expected an integer between 1 and 1000')
  .transform(Number)
  .pipe(PageLimit);

const NOT_A_DATE_TIME = 'must be an ISO 8601 date-time';

/** A `+01:00` sent unencoded arrives as ` 01:00` (a `+` in a query string is a space): say so. */
const notADateTime = ({ input }: { input?: unknown }) =>
  typeof input === 'string' && / \d\d:?\d\d$/.test(input) ? `${NOT_A_DATE_TIME} (send a + in a query string as %2B)` : NOT_A_DATE_TIME;

/**
 * A date-time with its offset (`Z` or `+01:00`), passed on in UTC with milliseconds, the
 * precision every stored time has. Finer digits are rounded so no stored time crosses the bound:
 * `down` for an upper bound that includes its instant, `up` for a lower bound and for an upper
 * bound that excludes it (`from=…00.0005Z` must not take an event at `…00.000Z`).
 */
export function dateTimeParam(round: 'down' | 'up') {
  return z.iso
    .datetime({ offset: true, error: notADateTime })
    .refine((value) => !Number.isNaN(Date.parse(value)), NOT_A_DATE_TIME)
    .refine(isStorableInstant, STORABLE_INSTANT)
    .transform((value) => toMillisecond(value, round));
}

/** A valid date-time in UTC with milliseconds, finer digits rounded `down` or `up`. */
export function toMillisecond(value: string, round: 'down' | 'up'): string {
  return new Date(Date.parse(value) + (round === 'up' && finerThanMilliseconds(value) ? 1 : 0)).toISOString();
}

/** Whether the fraction of seconds holds a non-zero digit past the third (Date.parse drops them). */
function finerThanMilliseconds(value: string): boolean {
  const fraction = /T[^.]*\.(\d+)/.exec(value)?.[1] ?? '';
  return /[1-9]/.test(fraction.slice(3));
}

/** The query string of a call that takes none: any parameter is refused by name. */
export const NoQuery = z.strictObject({});
