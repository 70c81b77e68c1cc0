import { z } from 'zod';
import { Actor, Cursor, Environment, IsoTimestamp, KeyId, PageLimit, RateLimits, RequestId, Sha256Hex, StorableText } from '../common/primitives.js';
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

/**
 * What auth decided a management call on, for the keys service to check again against the
 * calling key as it stores it now: auth's view trails a rotation or a narrowing by up to 250 ms.
 * `keyHash` is the presented key's SHA-256 hash, the one sent to `auth.decide` (never the
 * secret); `permission` the route's, null for a route that requires none (the catalog's names
 * only: keys answers 400 to any other).
 *
 * Beside the actor, not in it: the actor goes into commands and the events they make, the hash
 * must not. Optional, so a message of an older gateway (or of a trusted internal caller) stays
 * valid and is judged as before, by the stored key's status and permissions alone; the gateway
 * of this release always sends it, and an older keys service that refuses it unread gets the
 * message again without it (`sendDroppingUnknown`).
 */
export const Recheck = z.strictObject({
  keyHash: Sha256Hex,
  permission: StorableText.max(64).nullable(),
});
export type Recheck = z.infer<typeof Recheck>;

export const IssueKeyRequest = z.strictObject({
  actor: Actor,
  recheck: Recheck.optional(),
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
  recheck: Recheck.optional(),
  requestId: RequestId.optional(),
  keyId: KeyId,
  gracePeriodSeconds: z.number().int().min(0).max(30 * 24 * 3600),
  secret: SecretFingerprint,
});
export type RotateKeyRequest = z.infer<typeof RotateKeyRequest>;

export const RevokeKeyRequest = z.strictObject({
  actor: Actor,
  recheck: Recheck.optional(),
  requestId: RequestId.optional(),
  keyId: KeyId,
  reason: RevokeReason.nullable().optional(),
});
export type RevokeKeyRequest = z.infer<typeof RevokeKeyRequest>;

/** PATCH: rename, change permissions and change rate limits, decided and stored together. */
export const UpdateKeyRequest = z.strictObject({
  actor: Actor,
  recheck: Recheck.optional(),
  requestId: RequestId.optional(),
  keyId: KeyId,
  name: KeyName.optional(),
  permissions: PermissionList.optional(),
  rateLimits: RateLimits.partial().optional(),
});
export type UpdateKeyRequest = z.infer<typeof UpdateKeyRequest>;

export const GetKeyRequest = z.strictObject({ actor: Actor, recheck: Recheck.optional(), requestId: RequestId.optional(), keyId: KeyId });
export type GetKeyRequest = z.infer<typeof GetKeyRequest>;

export const ListKeysRequest = z.strictObject({
  actor: Actor,
  recheck: Recheck.optional(),
  requestId: RequestId.optional(),
  environment: Environment.optional(),
  status: KeyStatus.optional(),
  limit: PageLimit.default(100),
  cursor: Cursor.optional(),
});
export type ListKeysRequest = z.infer<typeof ListKeysRequest>;

export const AuditEventsRequest = z.strictObject({
  actor: Actor,
  recheck: Recheck.optional(),
  requestId: RequestId.optional(),
  keyId: KeyId.optional(),
  type: z.enum(KEY_EVENT_TYPES as [string, ...string[]]).optional(),
  from: IsoTimestamp.optional(),
  to: IsoTimestamp.optional(),
  limit: PageLimit.default(100),
  cursor: Cursor.optional(),
});
export type AuditEventsRequest = z.infer<typeof AuditEventsRequest>;
