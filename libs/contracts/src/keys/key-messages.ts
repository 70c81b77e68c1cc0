import { z } from 'zod';
import { Actor, Cursor, Environment, IsoTimestamp, KeyId, PageLimit, RateLimits, RequestId, StorableText } from '../common/primitives.js';
import { SecretFingerprint } from './key-events.js';
import { KeyStatus } from './key-object.js';
import { KEY_EVENT_TYPES } from './key-events.js';

// Requests to the keys service. The gateway generates secrets and sends only their
// fingerprint, so a secret never crosses NATS.

// Bounded here so that no field can make a request outgrow a NATS message (1 MiB).
export const KeyName = StorableText.trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters');
/** The catalog has 16 permissions and a list may not repeat one; the bounds only keep garbage small. */
export const PermissionList = z.array(z.string().max(64, 'must be at most 64 characters')).max(64, 'must list at most 64 permissions');
export const RevokeReason = StorableText.max(500, 'must be at most 500 characters');

/**
 * NATS header on a key command: how long, in milliseconds from when it was sent, its caller
 * waits for the reply. Keys commits no change after that (less a margin for the reply's way
 * back), so a caller that stopped waiting was most likely refused, not obeyed. Optional: a
 * command without it runs to the end, however long that takes.
 */
export const REPLY_WITHIN_HEADER = 'Keyplane-Reply-Within-Ms';

export const IssueKeyRequest = z.strictObject({
  actor: Actor,
  requestId: RequestId.optional(),
  name: KeyName,
  environment: Environment,
  permissions: PermissionList,
  rateLimits: RateLimits.partial().optional(),
  expiresAt: IsoTimestamp.nullable().optional(),
  secret: SecretFingerprint,
});
export type IssueKeyRequest = z.infer<typeof IssueKeyRequest>;

export const RotateKeyRequest = z.strictObject({
  actor: Actor,
  requestId: RequestId.optional(),
  keyId: KeyId,
  gracePeriodSeconds: z.number().int().min(0).max(30 * 24 * 3600),
  secret: SecretFingerprint,
});
export type RotateKeyRequest = z.infer<typeof RotateKeyRequest>;

export const RevokeKeyRequest = z.strictObject({
  actor: Actor,
  requestId: RequestId.optional(),
  keyId: KeyId,
  reason: RevokeReason.nullable().optional(),
});
export type RevokeKeyRequest = z.infer<typeof RevokeKeyRequest>;

/** PATCH: rename, change permissions and change rate limits, decided and stored together. */
export const UpdateKeyRequest = z.strictObject({
  actor: Actor,
  requestId: RequestId.optional(),
  keyId: KeyId,
  name: KeyName.optional(),
  permissions: PermissionList.optional(),
  rateLimits: RateLimits.partial().optional(),
});
export type UpdateKeyRequest = z.infer<typeof UpdateKeyRequest>;

export const GetKeyRequest = z.strictObject({ actor: Actor, requestId: RequestId.optional(), keyId: KeyId });
export type GetKeyRequest = z.infer<typeof GetKeyRequest>;

export const ListKeysRequest = z.strictObject({
  actor: Actor,
  requestId: RequestId.optional(),
  environment: Environment.optional(),
  status: KeyStatus.optional(),
  limit: PageLimit.default(100),
  cursor: Cursor.optional(),
});
export type ListKeysRequest = z.infer<typeof ListKeysRequest>;

export const AuditEventsRequest = z.strictObject({
  actor: Actor,
  requestId: RequestId.optional(),
  keyId: KeyId.optional(),
  type: z.enum(KEY_EVENT_TYPES as [string, ...string[]]).optional(),
  from: IsoTimestamp.optional(),
  to: IsoTimestamp.optional(),
  limit: PageLimit.default(100),
  cursor: Cursor.optional(),
});
export type AuditEventsRequest = z.infer<typeof AuditEventsRequest>;
