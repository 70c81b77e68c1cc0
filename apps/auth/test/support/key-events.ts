import { generateKey, type GeneratedKey } from '@keyplane/key-format';
import type { KeyEvent, KeyIssued, RateLimits } from '@keyplane/contracts';
import { ulid } from 'ulid';

// Builders for v1 key events as the keys service publishes them, for unit and service tests.

export const ACCOUNT = 'acc_test';
const T0 = '2026-11-26T10:00:00.000Z';

export interface IssuedKey {
  keyId: string;
  secret: GeneratedKey;
  event: KeyIssued;
}

export function issued(
  options: {
    permissions?: string[];
    rateLimits?: RateLimits;
    expiresAt?: string | null;
    environment?: 'live' | 'test';
    keyId?: string;
    occurredAt?: string;
  } = {},
): IssuedKey {
  const environment = options.environment ?? 'live';
  const secret = generateKey({ environment });
  const keyId = options.keyId ?? `key_${ulid()}`;
  const event: KeyIssued = {
    type: 'KeyIssued',
    version: 1,
    eventId: ulid(),
    keyId,
    accountId: ACCOUNT,
    occurredAt: options.occurredAt ?? T0,
    actor: 'system',
    data: {
      name: 'test key',
      environment,
      permissions: options.permissions ?? ['*'],
      rateLimits: options.rateLimits ?? { hour: 1000, day: 10000 },
      expiresAt: options.expiresAt ?? null,
      secret: { secretHash: secret.hash, displayPrefix: secret.displayPrefix, last4: secret.last4 },
    },
  };
  return { keyId, secret, event };
}

const envelope = (keyId: string, occurredAt = T0) => ({
  version: 1 as const,
  eventId: ulid(),
  keyId,
  accountId: ACCOUNT,
  occurredAt,
  actor: 'system' as const,
});

export function rotated(
  keyId: string,
  previous: GeneratedKey,
  previousKeyExpiresAt: string,
  occurredAt = T0,
): { secret: GeneratedKey; event: KeyEvent } {
  const secret = generateKey({ environment: previous.environment });
  return {
    secret,
    event: {
      type: 'KeySecretRotated',
      ...envelope(keyId, occurredAt),
      data: {
        secret: { secretHash: secret.hash, displayPrefix: secret.displayPrefix, last4: secret.last4 },
        previousSecretHash: previous.hash,
        previousKeyExpiresAt,
      },
    },
  };
}

export const revoked = (keyId: string): KeyEvent => ({ type: 'KeyRevoked', ...envelope(keyId), data: { reason: 'test' } });

export const permissionsChanged = (keyId: string, permissions: string[]): KeyEvent => ({
  type: 'KeyPermissionsChanged',
  ...envelope(keyId),
  data: { permissions },
});

export const rateLimitsChanged = (keyId: string, rateLimits: RateLimits): KeyEvent => ({
  type: 'KeyRateLimitsChanged',
  ...envelope(keyId),
  data: { rateLimits },
});

export const renamed = (keyId: string, name: string): KeyEvent => ({ type: 'KeyRenamed', ...envelope(keyId), data: { name } });
