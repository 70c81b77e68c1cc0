import { z } from 'zod';
import { PageLimit } from '@keyplane/contracts';

// Query-string values shared by the management endpoints, so a parameter that means the same
// thing is checked, and refused, the same way everywhere.

export const limitParam = z
  .string()
  .regex(/^\d{1,4}$/, 'expected an integer between 1 and 1000')
  .transform(Number)
  .pipe(PageLimit);

const NOT_A_DATE_TIME = 'must be an ISO 8601 date-time';

/** A date-time with its offset (`Z` or `+01:00`), passed on in UTC with milliseconds. */
export const dateTimeParam = z.iso
  .datetime({ offset: true, error: NOT_A_DATE_TIME })
  .refine((value) => !Number.isNaN(Date.parse(value)), NOT_A_DATE_TIME)
  .transform((value) => new Date(value).toISOString());
