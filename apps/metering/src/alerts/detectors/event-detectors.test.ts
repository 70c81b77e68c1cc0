import type { UsageRecorded } from '@keyplane/contracts';
import { DEFAULT_THRESHOLDS } from '../thresholds.js';
import { detectAuthFailureBursts } from './auth-failure-burst.js';
import { detectPermissionProbes } from './permission-probe.js';
import { detectQuotaExhausted } from './quota-exhausted.js';
import type { RecentEvent } from './recent-event.js';
import { detectRevokedKeyUse } from './revoked-key-use.js';

const event = (overrides: Partial<UsageRecorded>): UsageRecorded => ({
  type: 'UsageRecorded',
  version: 1,
  eventId: 'evt_1',
  occurredAt: '2026-04-01T12:34:56.000Z',
  keyId: 'key_a',
  accountId: 'acc_a',
  environment: 'live',
  outcome: 'allowed',
  reason: 'ok',
  permission: 'FLOWS:READ',
  method: 'GET',
  path: '/v1/flows',
  clientIp: '10.0.0.1',
  userAgent: 'ua',
  requestId: 'req',
  hourUsed: 1,
  dayUsed: 1,
  hourLimit: 1000,
  dayLimit: 10000,
  ...overrides,
});

const recent = (seconds: number[], overrides: Partial<RecentEvent> = {}): RecentEvent[] =>
  seconds.map((s, index) => ({
    eventId: `evt_${index}`,
    at: Date.parse('2026-04-01T12:00:00.000Z') + s * 1000,
    isNew: true,
    keyId: null,
    accountId: null,
    clientIp: '203.0.113.1',
    permission: null,
    ...overrides,
  }));

describe('detectQuotaExhausted', () => {
  it('raises one per key and quota window: the hour for the hourly limit, the day for the daily one', () => {
    const candidates = detectQuotaExhausted([
      event({ outcome: 'rate_limited', reason: 'hour_limit', hourUsed: 1000 }),
      event({ outcome: 'rate_limited', reason: 'day_limit', dayUsed: 10000 }),
      event({ outcome: 'allowed' }),
    ]);
    expect(candidates.map(({ subject, windowStart, summary, evidence }) => ({ subject, windowStart, summary, evidence }))).toEqual([
      {
        subject: 'key_a',
        windowStart: '2026-04-01T12:00:00.000Z',
        summary: 'Key key_a reached its hourly limit of 1000 requests',
        evidence: { window: 'hour', windowStart: '2026-04-01T12:00:00.000Z', limit: 1000, used: 1000, eventId: 'evt_1' },
      },
      {
        subject: 'key_a',
        windowStart: '2026-04-01T00:00:00.000Z',
        summary: 'Key key_a reached its daily limit of 10000 requests',
        evidence: { window: 'day', windowStart: '2026-04-01T00:00:00.000Z', limit: 10000, used: 10000, eventId: 'evt_1' },
      },
    ]);
  });
});

describe('detectRevokedKeyUse', () => {
  it('raises for a revoked key or a rotated-out secret, not for other 401s', () => {
    const candidates = detectRevokedKeyUse([
      event({ outcome: 'unauthorized', reason: 'revoked' }),
      event({ outcome: 'unauthorized', reason: 'rotated_out', keyId: null, accountId: null, clientIp: '10.9.9.9' }),
      event({ outcome: 'unauthorized', reason: 'expired' }),
      event({ outcome: 'unauthorized', reason: 'unknown_key', keyId: null }),
    ]);
    expect(candidates.map(({ severity, subject, windowStart, summary }) => ({ severity, subject, windowStart, summary }))).toEqual([
      { severity: 'critical', subject: 'key_a', windowStart: '2026-04-01T12:00:00.000Z', summary: 'A revoked key of key_a was used from 10.0.0.1' },
      { severity: 'critical', subject: 'ip:10.9.9.9', windowStart: '2026-04-01T12:00:00.000Z', summary: 'A rotated-out secret was used from 10.9.9.9' },
    ]);
  });
});

describe('detectAuthFailureBursts', () => {
  const t = { ...DEFAULT_THRESHOLDS, authFailureThreshold: 3, authFailureWindowSeconds: 60 };

  it('raises when an address fails the threshold within the window, dated at the failure that tipped it', () => {
    const [first] = detectAuthFailureBursts(new Map([['203.0.113.1', recent([0, 20, 40, 50])]]), t);
    expect(first).toEqual({
      type: 'auth_failure_burst',
      severity: 'warning',
      subject: 'ip:203.0.113.1',
      windowStart: '2026-04-01T12:00:00.000Z',
      keyId: null,
      accountId: null,
      detectedAt: '2026-04-01T12:00:40.000Z',
      summary: '3 failed authentications from 203.0.113.1 within 1 minute',
      evidence: { clientIp: '203.0.113.1', failures: 3, windowSeconds: 60, firstAt: '2026-04-01T12:00:00.000Z', lastAt: '2026-04-01T12:00:40.000Z' },
    });
  });

  it('stays quiet for failures spread out', () => {
    expect(detectAuthFailureBursts(new Map([['203.0.113.1', recent([0, 30, 60, 90, 120])]]), t)).toEqual([]);
  });
});

describe('detectPermissionProbes', () => {
  const t = { ...DEFAULT_THRESHOLDS, permissionProbeThreshold: 3, permissionProbeWindowSeconds: 600 };

  it('raises when a key is refused the threshold within the window, listing what it tried', () => {
    const denials = recent([0, 100, 200], { keyId: 'key_a', accountId: 'acc_a' }).map((denial, index) => ({ ...denial, permission: ['KEYS:WRITE', 'AUDIT:READ', 'KEYS:WRITE'][index] }));
    const [probe] = detectPermissionProbes(new Map([['key_a', denials]]), t);
    expect(probe).toMatchObject({
      type: 'permission_probe',
      subject: 'key_a',
      keyId: 'key_a',
      accountId: 'acc_a',
      detectedAt: '2026-04-01T12:03:20.000Z',
      summary: '3 requests of key key_a were refused for missing permissions within 10 minutes',
      evidence: { forbidden: 3, windowSeconds: 600, permissions: ['AUDIT:READ', 'KEYS:WRITE'], clientIps: ['203.0.113.1'] },
    });
  });

  it('stays quiet below the threshold', () => {
    expect(detectPermissionProbes(new Map([['key_a', recent([0, 601, 1202])]]), t)).toEqual([]);
  });
});
