import type { KeyState } from '../key-view/key-view.js';
import { decideAdmitted, unauthorized } from './decide.js';

const NOW = Date.parse('2026-11-26T12:34:56.000Z');
const HOUR_RESET = Date.parse('2026-11-26T13:00:00.000Z') / 1000;
const DAY_RESET = Date.parse('2026-11-27T00:00:00.000Z') / 1000;

const key = (permissions: string[], rateLimits = { hour: 10, day: 100 }): KeyState => ({
  keyId: 'key_01JDX0000000000000000000AB',
  accountId: 'acc_test',
  environment: 'test',
  permissions,
  rateLimits,
  expiresAt: null,
  revoked: false,
});
const counted = (hourUsed: number, dayUsed: number) => ({ admitted: true, hourUsed, dayUsed });
const refused = (hourUsed: number, dayUsed: number) => ({ admitted: false, hourUsed, dayUsed });

describe('decideAdmitted', () => {
  it('allows a key holding the permission, with both windows after this request', () => {
    expect(decideAdmitted(key(['FLOWS:READ']), counted(1, 41), 'FLOWS:READ', NOW)).toEqual({
      outcome: 'allowed',
      reason: 'ok',
      key: { keyId: 'key_01JDX0000000000000000000AB', accountId: 'acc_test', environment: 'test', permissions: ['FLOWS:READ'] },
      limits: {
        hour: { limit: 10, used: 1, remaining: 9, resetAt: HOUR_RESET },
        day: { limit: 100, used: 41, remaining: 59, resetAt: DAY_RESET },
      },
    });
  });

  it.each([
    [['*'], 'FLOWS:WRITE'],
    [['FLOWS:*'], 'FLOWS:EXECUTE'],
    [['RECORDS:READ', 'FLOWS:WRITE'], 'FLOWS:WRITE'],
  ])('lets %j do %s', (permissions, required) => {
    expect(decideAdmitted(key(permissions), counted(1, 1), required, NOW).outcome).toBe('allowed');
  });

  it.each([
    [['FLOWS:WRITE'], 'FLOWS:READ'],
    [['RECORDS:*'], 'FLOWS:READ'],
    [[], 'FLOWS:READ'],
  ])('forbids %j to do %s', (permissions, required) => {
    expect(decideAdmitted(key(permissions), counted(3, 3), required, NOW)).toMatchObject({
      outcome: 'forbidden',
      reason: 'missing_permission',
      limits: { hour: { used: 3, remaining: 7 } },
    });
  });

  it('only authenticates when no permission is required', () => {
    expect(decideAdmitted(key([]), counted(1, 1), null, NOW)).toMatchObject({ outcome: 'allowed', reason: 'ok' });
  });

  it('rate limits on the hour when the hour window is full, whatever the permission', () => {
    expect(decideAdmitted(key([]), refused(10, 50), 'FLOWS:READ', NOW)).toMatchObject({
      outcome: 'rate_limited',
      reason: 'hour_limit',
      limits: { hour: { limit: 10, used: 10, remaining: 0 }, day: { limit: 100, used: 50, remaining: 50 } },
    });
  });

  it('rate limits on the day when only the day window is full', () => {
    expect(decideAdmitted(key(['*']), refused(4, 100), 'FLOWS:READ', NOW)).toMatchObject({
      outcome: 'rate_limited',
      reason: 'day_limit',
      limits: { hour: { used: 4, remaining: 6 }, day: { used: 100, remaining: 0 } },
    });
  });

  it('names the day when both windows are full: no request passes before the day resets', () => {
    expect(decideAdmitted(key(['*'], { hour: 5, day: 5 }), refused(5, 5), null, NOW).reason).toBe('day_limit');
  });

  it('shows 0 remaining after a limit was lowered below what was already used', () => {
    const decision = decideAdmitted(key(['*'], { hour: 5, day: 100 }), refused(8, 8), null, NOW);
    expect(decision.limits?.hour).toEqual({ limit: 5, used: 8, remaining: 0, resetAt: HOUR_RESET });
  });
});

describe('unauthorized', () => {
  it('carries neither key nor limits', () => {
    expect(unauthorized('rotated_out')).toEqual({ outcome: 'unauthorized', reason: 'rotated_out', key: null, limits: null });
  });
});
