import type { KeyEvent } from '@keyplane/contracts';
import { evolve } from './evolve.js';
import { toKeyObject } from './key-object.js';
import { initialState, type KeyState } from './state.js';

const KEY = 'key_01JDQ7Z5Y8K3M4N5P6Q7R8S9T0';
const base = { version: 1 as const, keyId: KEY, accountId: 'acc_acme', actor: 'system' as const };
const fingerprint = (c: string) => ({ secretHash: c.repeat(64), displayPrefix: 'tv_live_Ab3x', last4: `${c}ZqT` });

const history: KeyEvent[] = [
  {
    ...base,
    type: 'KeyIssued',
    eventId: 'e1',
    occurredAt: '2026-11-26T10:00:00.000Z',
    data: {
      name: 'CI deploy',
      environment: 'live',
      permissions: ['FLOWS:READ'],
      rateLimits: { hour: 1000, day: 10000 },
      expiresAt: '2027-01-01T00:00:00.000Z',
      secret: fingerprint('a'),
    },
  },
  {
    ...base,
    type: 'KeySecretRotated',
    eventId: 'e2',
    occurredAt: '2026-11-26T11:00:00.000Z',
    data: { secret: fingerprint('b'), previousSecretHash: 'a'.repeat(64), previousKeyExpiresAt: '2026-11-26T12:00:00.000Z' },
  },
  { ...base, type: 'KeyRenamed', eventId: 'e3', occurredAt: '2026-11-26T11:01:00.000Z', data: { name: 'nightly' } },
  { ...base, type: 'KeyPermissionsChanged', eventId: 'e4', occurredAt: '2026-11-26T11:02:00.000Z', data: { permissions: ['FLOWS:*'] } },
  { ...base, type: 'KeyRateLimitsChanged', eventId: 'e5', occurredAt: '2026-11-26T11:03:00.000Z', data: { rateLimits: { hour: 5, day: 50 } } },
];
const revokedAt = '2026-11-26T13:00:00.000Z';
const revocation: KeyEvent = { ...base, type: 'KeyRevoked', eventId: 'e6', occurredAt: revokedAt, data: { reason: null } };

const fold = (events: KeyEvent[]): KeyState => events.reduce(evolve, initialState());

describe('evolve', () => {
  it('starts absent', () => {
    expect(initialState()).toEqual({ status: 'absent' });
  });

  it('folds a key’s whole life into its current state', () => {
    expect(fold(history)).toEqual({
      status: 'active',
      id: KEY,
      accountId: 'acc_acme',
      name: 'nightly',
      environment: 'live',
      permissions: ['FLOWS:*'],
      rateLimits: { hour: 5, day: 50 },
      expiresAt: '2027-01-01T00:00:00.000Z',
      secret: fingerprint('b'),
      previousSecretHash: 'a'.repeat(64),
      previousKeyExpiresAt: '2026-11-26T12:00:00.000Z',
      createdAt: '2026-11-26T10:00:00.000Z',
    });
    expect(fold([...history, revocation])).toMatchObject({ status: 'revoked', revokedAt });
  });

  it('ignores a stream that does not start with KeyIssued', () => {
    expect(fold(history.slice(1))).toEqual({ status: 'absent' });
  });
});

describe('toKeyObject', () => {
  const active = fold(history);
  if (active.status === 'absent') throw new Error('fixture must be issued');

  it('shows the key object of DESIGN §7, without any secret material', () => {
    expect(toKeyObject(active, '2026-11-27T00:00:00.000Z')).toEqual({
      id: KEY,
      accountId: 'acc_acme',
      name: 'nightly',
      environment: 'live',
      prefix: 'tv_live_Ab3x',
      last4: 'bZqT',
      permissions: ['FLOWS:*'],
      rateLimits: { hour: 5, day: 50 },
      status: 'active',
      createdAt: '2026-11-26T10:00:00.000Z',
      expiresAt: '2027-01-01T00:00:00.000Z',
      revokedAt: null,
      lastUsedAt: null,
    });
  });

  it('reads an active key as expired from its expiresAt on', () => {
    expect(toKeyObject(active, '2026-12-31T23:59:59.999Z').status).toBe('active');
    expect(toKeyObject(active, '2027-01-01T00:00:00.000Z').status).toBe('expired');
  });

  it('reads a revoked key as revoked, expired or not', () => {
    const revoked = evolve(active, revocation);
    if (revoked.status === 'absent') throw new Error('fixture must be issued');
    expect(toKeyObject(revoked, '2028-01-01T00:00:00.000Z')).toMatchObject({ status: 'revoked', revokedAt });
  });
});
