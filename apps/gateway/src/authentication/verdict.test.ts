import type { Decision, LimitState } from '@keyplane/contracts';
import { verdictFor } from './verdict.js';

const now = 1_705_316_400;
const limits = (hourUsed: number, dayUsed: number, hour = 1000, day = 10000): LimitState => ({
  hour: { limit: hour, used: hourUsed, remaining: Math.max(0, hour - hourUsed), resetAt: now + 3600 },
  day: { limit: day, used: dayUsed, remaining: Math.max(0, day - dayUsed), resetAt: now + 7200 },
});
const key = { keyId: 'key_01J00000000000000000000000', accountId: 'acc_1', environment: 'live' as const, permissions: ['FLOWS:READ'] };
const decision = (d: Partial<Decision>): Decision => ({ outcome: 'allowed', reason: 'ok', key, limits: limits(1, 1), ...d });

describe('verdictFor', () => {
  it('lets an allowed request through with its rate-limit headers', () => {
    const verdict = verdictFor(decision({}), 'FLOWS:READ', now);
    expect(verdict).toMatchObject({ allowed: true, key, headers: { 'x-ratelimit-remaining': '999', 'x-ratelimit-limit': '1000' } });
  });

  it.each([
    ['unknown_key', 'Invalid or missing API key'],
    ['rotated_out', 'Invalid or missing API key'],
    ['revoked', 'API key has been revoked'],
    ['expired', 'API key has expired'],
  ] as const)('answers %s with 401 "%s"', (reason, details) => {
    expect(verdictFor(decision({ outcome: 'unauthorized', reason, key: null, limits: null }), 'FLOWS:READ', now)).toEqual({
      allowed: false,
      status: 401,
      body: JSON.stringify({ error: 'Unauthorized', details }),
      headers: { 'www-authenticate': 'Bearer' },
    });
  });

  it("names the route's permission in a 403, with rate-limit headers", () => {
    const verdict = verdictFor(decision({ outcome: 'forbidden', reason: 'missing_permission' }), 'FLOWS:WRITE', now);
    expect(verdict).toMatchObject({
      allowed: false,
      status: 403,
      body: '{"error":"Forbidden","details":"Missing required permission: FLOWS:WRITE"}',
      headers: { 'x-ratelimit-remaining-hour': '999' },
    });
  });

  it("answers 429 with the key's own hourly limit and Retry-After", () => {
    const verdict = verdictFor(decision({ outcome: 'rate_limited', reason: 'hour_limit', limits: limits(5, 5, 5, 100) }), 'FLOWS:READ', now);
    expect(verdict).toMatchObject({
      allowed: false,
      status: 429,
      body: '{"error":"Rate limit exceeded","details":"Hourly limit of 5 requests reached"}',
      headers: { 'retry-after': '3600', 'x-ratelimit-limit': '5', 'x-ratelimit-remaining': '0' },
    });
  });

  it('answers 429 for the daily limit with the day window', () => {
    const verdict = verdictFor(decision({ outcome: 'rate_limited', reason: 'day_limit', limits: limits(3, 10, 1000, 10) }), null, now);
    expect(verdict).toMatchObject({
      status: 429,
      body: '{"error":"Rate limit exceeded","details":"Daily limit of 10 requests reached"}',
      headers: { 'retry-after': '7200', 'x-ratelimit-limit': '10', 'x-ratelimit-reset': String(now + 7200) },
    });
  });

  it('fails closed on a decision that contradicts itself', () => {
    const unavailable = { allowed: false, status: 503, body: '{"error":"Service Unavailable","details":"Authorization service unavailable"}' };
    expect(verdictFor(decision({ key: null }), 'FLOWS:READ', now)).toMatchObject(unavailable);
    expect(verdictFor(decision({ limits: null }), 'FLOWS:READ', now)).toMatchObject(unavailable);
  });

  it.each([
    ['allowed', 'revoked'],
    ['allowed', 'missing_permission'],
    ['forbidden', 'ok'],
    ['rate_limited', 'ok'],
    ['unauthorized', 'ok'],
    ['unauthorized', 'hour_limit'],
  ] as const)('fails closed on the outcome %s with the reason %s, which auth never pairs', (outcome, reason) => {
    expect(verdictFor(decision({ outcome, reason }), 'FLOWS:READ', now)).toEqual({
      allowed: false,
      status: 503,
      body: '{"error":"Service Unavailable","details":"Authorization service unavailable"}',
      headers: {},
    });
  });

  it("fails closed on a request allowed to a key whose permissions do not cover the route's", () => {
    expect(verdictFor(decision({}), 'FLOWS:WRITE', now)).toMatchObject({ allowed: false, status: 503 });
    expect(verdictFor(decision({ key: { ...key, permissions: [] } }), 'FLOWS:READ', now)).toMatchObject({ allowed: false, status: 503 });
    expect(verdictFor(decision({ key: { ...key, permissions: ['FLOWS:*'] } }), 'FLOWS:WRITE', now)).toMatchObject({ allowed: true });
    expect(verdictFor(decision({ key: { ...key, permissions: [] } }), null, now)).toMatchObject({ allowed: true });
  });
});
