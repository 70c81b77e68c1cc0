import { z } from 'zod';
import { AccountId, ActorRef, Environment, IsoTimestamp, KeyId, RateLimits, Sha256Hex } from '../common/primitives.js';

// Key lifecycle events, v1 (DESIGN §8). Secrets appear only as SHA-256 hashes.

const envelope = {
  version: z.literal(1),
  eventId: z.string().min(1),
  keyId: KeyId,
  accountId: AccountId,
  occurredAt: IsoTimestamp,
  actor: ActorRef,
};

/** The non-secret parts of a secret: its hash, the first 12 characters and the last 4. */
export const SecretFingerprint = z.strictObject({
  secretHash: Sha256Hex,
  // A key's first 12 and last 4 characters: only letters, digits and `_` ever appear in a key.
  displayPrefix: z.string().regex(/^[0-9A-Za-z_]{1,32}$/, 'expected the first characters of a key'),
  last4: z.string().regex(/^[0-9A-Za-z]{4}$/, 'expected the last 4 characters of a key'),
});
export type SecretFingerprint = z.infer<typeof SecretFingerprint>;

export const KeyIssued = z.strictObject({
  type: z.literal('KeyIssued'),
  ...envelope,
  data: z.strictObject({
    name: z.string(),
    environment: Environment,
    permissions: z.array(z.string()),
    rateLimits: RateLimits,
    expiresAt: IsoTimestamp.nullable(),
    secret: SecretFingerprint,
  }),
});

export const KeySecretRotated = z.strictObject({
  type: z.literal('KeySecretRotated'),
  ...envelope,
  data: z.strictObject({
    secret: SecretFingerprint,
    previousSecretHash: Sha256Hex,
    /** Until then the previous secret still authenticates; equal to occurredAt without a grace period. */
    previousKeyExpiresAt: IsoTimestamp,
  }),
});

export const KeyPermissionsChanged = z.strictObject({
  type: z.literal('KeyPermissionsChanged'),
  ...envelope,
  data: z.strictObject({ permissions: z.array(z.string()) }),
});

export const KeyRateLimitsChanged = z.strictObject({
  type: z.literal('KeyRateLimitsChanged'),
  ...envelope,
  data: z.strictObject({ rateLimits: RateLimits }),
});

export const KeyRenamed = z.strictObject({
  type: z.literal('KeyRenamed'),
  ...envelope,
  data: z.strictObject({ name: z.string() }),
});

export const KeyRevoked = z.strictObject({
  type: z.literal('KeyRevoked'),
  ...envelope,
  data: z.strictObject({ reason: z.string().nullable() }),
});

export const KeyEvent = z.discriminatedUnion('type', [
  KeyIssued,
  KeySecretRotated,
  KeyPermissionsChanged,
  KeyRateLimitsChanged,
  KeyRenamed,
  KeyRevoked,
]);
export type KeyEvent = z.infer<typeof KeyEvent>;
export type KeyIssued = z.infer<typeof KeyIssued>;
export type KeySecretRotated = z.infer<typeof KeySecretRotated>;
export type KeyPermissionsChanged = z.infer<typeof KeyPermissionsChanged>;
export type KeyRateLimitsChanged = z.infer<typeof KeyRateLimitsChanged>;
export type KeyRenamed = z.infer<typeof KeyRenamed>;
export type KeyRevoked = z.infer<typeof KeyRevoked>;
export type KeyEventType = KeyEvent['type'];
export const KEY_EVENT_TYPES = KeyEvent.options.map((o) => o.shape.type.value) as KeyEventType[];
