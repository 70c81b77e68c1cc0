import type { KeyEvent } from '@keyplane/contracts';
import { toAuditEvent } from './audit-view.js';

const base = { version: 1 as const, keyId: 'key_01JDQ7Z5Y8K3M4N5P6Q7R8S9T0', accountId: 'acc_acme', actor: 'system' as const, occurredAt: '2026-11-26T10:00:00.000Z' };
const secret = { secretHash: 'a'.repeat(64), displayPrefix: 'tv_live_Ab3x', last4: '9ZqT' };

describe('toAuditEvent', () => {
  it('shows an issue with the display prefix and last 4, never the hash', () => {
    const event: KeyEvent = {
      ...base,
      type: 'KeyIssued',
      eventId: 'evt_1',
      data: { name: 'CI', environment: 'live', permissions: ['FLOWS:READ'], rateLimits: { hour: 1, day: 2 }, expiresAt: null, secret },
    };
    expect(toAuditEvent(event)).toEqual({
      id: 'evt_1',
      type: 'KeyIssued',
      keyId: base.keyId,
      accountId: 'acc_acme',
      actor: 'system',
      occurredAt: base.occurredAt,
      data: { name: 'CI', environment: 'live', permissions: ['FLOWS:READ'], rateLimits: { hour: 1, day: 2 }, expiresAt: null, prefix: 'tv_live_Ab3x', last4: '9ZqT' },
    });
  });

  it('shows a rotation without either hash', () => {
    const event: KeyEvent = {
      ...base,
      type: 'KeySecretRotated',
      eventId: 'evt_2',
      data: { secret, previousSecretHash: 'b'.repeat(64), previousKeyExpiresAt: '2026-11-26T11:00:00.000Z' },
    };
    expect(toAuditEvent(event).data).toEqual({ prefix: 'tv_live_Ab3x', last4: '9ZqT', previousKeyExpiresAt: '2026-11-26T11:00:00.000Z' });
  });

  it('shows other changes as they are', () => {
    const event: KeyEvent = { ...base, type: 'KeyRevoked', eventId: 'evt_3', data: { reason: 'leaked' } };
    expect(toAuditEvent(event).data).toEqual({ reason: 'leaked' });
  });
});
