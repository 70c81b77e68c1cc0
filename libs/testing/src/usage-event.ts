import { ulid } from 'ulid';
import type { UsageRecorded } from '@keyplane/contracts';

/** A key id that passes the contracts' KeyId pattern, the same for the same name (up to 13 characters). */
export function keyIdOf(name: string): string {
  return `key_${Buffer.from(name).toString('hex').toUpperCase().padEnd(26, '0').slice(0, 26)}`;
}

/** A valid UsageRecorded v1, as auth would publish it; override what the test is about. */
export function usageEvent(overrides: Partial<UsageRecorded> = {}): UsageRecorded {
  const occurredAt = overrides.occurredAt ?? '2026-01-15T10:00:00.000Z';
  const outcome = overrides.outcome ?? 'allowed';
  const keyId = overrides.keyId === undefined ? keyIdOf('default') : overrides.keyId;
  const valid = keyId !== null && outcome !== 'unauthorized';
  return {
    type: 'UsageRecorded',
    version: 1,
    eventId: ulid(Date.parse(occurredAt)),
    occurredAt,
    keyId,
    accountId: keyId === null ? null : 'acc_test',
    environment: keyId === null ? null : 'live',
    outcome,
    reason: { allowed: 'ok', forbidden: 'missing_permission', rate_limited: 'hour_limit', unauthorized: 'unknown_key' }[outcome] as UsageRecorded['reason'],
    permission: 'FLOWS:READ',
    method: 'GET',
    path: '/v1/flows',
    clientIp: '198.51.100.7',
    userAgent: 'curl/8.5.0',
    requestId: `req_${ulid()}`,
    hourUsed: valid ? 1 : null,
    dayUsed: valid ? 1 : null,
    hourLimit: valid ? 1000 : null,
    dayLimit: valid ? 10000 : null,
    ...overrides,
  };
}

/** `count` events spread evenly over the hour starting at `hourStart`. */
export function eventsInHour(hourStart: string, count: number, overrides: Partial<UsageRecorded> = {}): UsageRecorded[] {
  const start = Date.parse(hourStart);
  const step = Math.floor(3_600_000 / Math.max(count, 1));
  return Array.from({ length: count }, (_, index) => usageEvent({ ...overrides, occurredAt: new Date(start + index * step).toISOString() }));
}
