import type { LimitState, RateLimits, WindowState } from '@keyplane/contracts';

// Fixed quota windows aligned to the UTC hour and the UTC day (DESIGN §5). Unix time has
// no leap seconds, so both are plain multiples of their length since the epoch.

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

export interface Windows {
  /** Epoch milliseconds where the current UTC hour began. */
  hourStart: number;
  /** Epoch milliseconds where the current UTC day began. */
  dayStart: number;
}

export function windowsAt(now: number): Windows {
  return { hourStart: now - mod(now, HOUR_MS), dayStart: now - mod(now, DAY_MS) };
}

/** Unix seconds at which each window of `now` ends: the X-RateLimit-Reset of DESIGN §5. */
export function resetTimes(now: number): { hour: number; day: number } {
  const { hourStart, dayStart } = windowsAt(now);
  return { hour: (hourStart + HOUR_MS) / 1000, day: (dayStart + DAY_MS) / 1000 };
}

/** A window's state; a limit lowered below what was already used shows 0 remaining, never less. */
export function windowState(limit: number, used: number, resetAt: number): WindowState {
  return { limit, used, remaining: Math.max(0, limit - used), resetAt };
}

export function limitState(limits: RateLimits, used: { hour: number; day: number }, now: number): LimitState {
  const reset = resetTimes(now);
  return { hour: windowState(limits.hour, used.hour, reset.hour), day: windowState(limits.day, used.day, reset.day) };
}

/** The window with fewer requests remaining; the hour on a tie (DESIGN §5). */
export function bindingWindow(limits: LimitState): 'hour' | 'day' {
  return limits.day.remaining < limits.hour.remaining ? 'day' : 'hour';
}

/** Negative times (before 1970) still land on the window start below them. */
function mod(value: number, divisor: number): number {
  return ((value % divisor) + divisor) % divisor;
}
