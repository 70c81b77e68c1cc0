import type { LimitState } from '@keyplane/contracts';
import { bindingWindow, rateLimitHeaders, retryAfterSeconds } from './rate-limit-headers.js';

const now = 1_705_316_400 + 600; // 10 minutes into an hour
const hourEnd = 1_705_320_000;
const dayEnd = 1_705_363_200;

const limits = (hourRemaining: number, dayRemaining: number): LimitState => ({
  hour: { limit: 1000, used: 1000 - hourRemaining, remaining: hourRemaining, resetAt: hourEnd },
  day: { limit: 10000, used: 10000 - dayRemaining, remaining: dayRemaining, resetAt: dayEnd },
});

describe('rate-limit headers', () => {
  it('describes the hour when it has fewer requests left', () => {
    expect(rateLimitHeaders(limits(999, 9999), now)).toEqual({
      'x-ratelimit-limit': '1000',
      'x-ratelimit-remaining': '999',
      'x-ratelimit-reset': String(hourEnd),
      'x-ratelimit-limit-hour': '1000',
      'x-ratelimit-remaining-hour': '999',
      'x-ratelimit-limit-day': '10000',
      'x-ratelimit-remaining-day': '9999',
      'ratelimit-policy': '"hour";q=1000;w=3600, "day";q=10000;w=86400',
      ratelimit: '"hour";r=999;t=3000',
    });
  });

  it('describes the day once it binds', () => {
    const headers = rateLimitHeaders(limits(500, 20), now);
    expect(headers['x-ratelimit-limit']).toBe('10000');
    expect(headers['x-ratelimit-remaining']).toBe('20');
    expect(headers['x-ratelimit-reset']).toBe(String(dayEnd));
    expect(headers.ratelimit).toBe(`"day";r=20;t=${dayEnd - now}`);
  });

  it('prefers the hour on a tie', () => {
    expect(bindingWindow(limits(0, 0))).toBe('hour');
    expect(bindingWindow(limits(7, 7))).toBe('hour');
    expect(bindingWindow(limits(7, 6))).toBe('day');
  });

  it('never reports a negative time to reset', () => {
    expect(rateLimitHeaders(limits(1, 1), hourEnd + 5).ratelimit).toBe('"hour";r=1;t=0');
  });

  it('tells a 429 how long until the exhausted window resets', () => {
    expect(retryAfterSeconds(limits(0, 9000), 'hour', now)).toBe(3000);
    expect(retryAfterSeconds(limits(300, 0), 'day', now)).toBe(dayEnd - now);
    expect(retryAfterSeconds(limits(0, 9000), 'hour', hourEnd)).toBe(1);
  });
});
