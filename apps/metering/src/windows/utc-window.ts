import type { Granularity } from '@keyplane/contracts';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

export const windowLength = (granularity: Granularity): number => (granularity === 'hour' ? HOUR_MS : DAY_MS);

/** Start of the UTC hour or day holding `ms`; unix time has no leap seconds, so plain arithmetic is exact. */
export function windowStart(ms: number, granularity: Granularity): number {
  const length = windowLength(granularity);
  return Math.floor(ms / length) * length;
}

export const isoOf = (ms: number): string => new Date(ms).toISOString();
