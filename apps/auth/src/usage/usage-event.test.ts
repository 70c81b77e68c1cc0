import { UsageRecorded, type DecideRequest } from '@keyplane/contracts';
import type { KeyState } from '../key-view/key-view.js';
import { decideAdmitted, unauthorized } from '../decision/decide.js';
import { usageRecorded } from './usage-event.js';

const AT = Date.parse('2026-11-26T12:34:56.789Z');
const request: DecideRequest = {
  keyHash: 'a'.repeat(64),
  permission: 'FLOWS:READ',
  method: 'GET',
  path: '/v1/flows',
  clientIp: '203.0.113.9',
  userAgent: 'curl/8.0',
  requestId: 'req-1',
};
const key: KeyState = {
  keyId: 'key_01JDX0000000000000000000AB',
  accountId: 'acc_test',
  environment: 'live',
  permissions: ['FLOWS:READ'],
  rateLimits: { hour: 10, day: 100 },
  expiresAt: null,
  revoked: false,
};

describe('usageRecorded', () => {
  it('records a counted decision with both windows after it', () => {
    const decision = decideAdmitted(key, { admitted: true, hourUsed: 3, dayUsed: 30 }, 'FLOWS:READ', AT);
    const event = usageRecorded('01JDXEVENT', { request, decision, matched: key, at: AT });
    expect(event).toEqual({
      type: 'UsageRecorded',
      version: 1,
      eventId: '01JDXEVENT',
      occurredAt: '2026-11-26T12:34:56.789Z',
      keyId: key.keyId,
      accountId: 'acc_test',
      environment: 'live',
      outcome: 'allowed',
      reason: 'ok',
      permission: 'FLOWS:READ',
      method: 'GET',
      path: '/v1/flows',
      clientIp: '203.0.113.9',
      userAgent: 'curl/8.0',
      requestId: 'req-1',
      hourUsed: 3,
      dayUsed: 30,
      hourLimit: 10,
      dayLimit: 100,
    });
    expect(UsageRecorded.safeParse(event).success).toBe(true);
  });

  it('names the key of a refused secret but no quota', () => {
    const event = usageRecorded('01JDXEVENT', { request, decision: unauthorized('revoked'), matched: { ...key, revoked: true }, at: AT });
    expect(event).toMatchObject({
      keyId: key.keyId,
      accountId: 'acc_test',
      environment: 'live',
      outcome: 'unauthorized',
      reason: 'revoked',
      hourUsed: null,
      dayUsed: null,
      hourLimit: null,
      dayLimit: null,
    });
  });

  it('names no key for an unknown hash', () => {
    const event = usageRecorded('01JDXEVENT', { request, decision: unauthorized('unknown_key'), matched: null, at: AT });
    expect(event).toMatchObject({ keyId: null, accountId: null, environment: null, reason: 'unknown_key' });
    expect(UsageRecorded.safeParse(event).success).toBe(true);
  });
});
