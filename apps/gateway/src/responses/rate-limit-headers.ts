import type { LimitState, WindowState } from '@keyplane/contracts';

type WindowName = 'hour' | 'day';

/** DESIGN §5: the window with fewer requests remaining binds; the hour wins a tie. */
export function bindingWindow(limits: LimitState): WindowName {
  return limits.day.remaining < limits.hour.remaining ? 'day' : 'hour';
}

const secondsUntil = (window: WindowState, nowSeconds: number) => Math.max(0, window.resetAt - nowSeconds);

/**
 * The rate-limit headers of every response to a request made with a valid key: the classic
 * `X-RateLimit-*` set of DESIGN §5 and the IETF draft's `RateLimit-Policy` / `RateLimit`.
 */
export function rateLimitHeaders(limits: LimitState, nowSeconds: number): Record<string, string> {
  const { hour, day } = limits;
  const name = bindingWindow(limits);
  const binding = limits[name];
  return {
    'x-ratelimit-limit': String(binding.limit),
    'x-ratelimit-remaining': String(binding.remaining),
    'x-ratelimit-reset': String(binding.resetAt),
    'x-ratelimit-limit-hour': String(hour.limit),
    'x-ratelimit-remaining-hour': String(hour.remaining),
    'x-ratelimit-limit-day': String(day.limit),
    'x-ratelimit-remaining-day': String(day.remaining),
    'ratelimit-policy': `"hour";q=${hour.limit};w=3600, "day";q=${day.limit};w=86400`,
    ratelimit: `"${name}";r=${binding.remaining};t=${secondsUntil(binding, nowSeconds)}`,
  };
}

/** A 429's `Retry-After`: seconds until the window that ran out resets, at least 1 so clients never spin. */
export function retryAfterSeconds(limits: LimitState, exhausted: WindowName, nowSeconds: number): number {
  return Math.max(1, secondsUntil(limits[exhausted], nowSeconds));
}
