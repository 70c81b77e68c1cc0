import { z } from 'zod';
import { AccountId, Environment, IsoTimestamp, KeyId, RateLimits } from '../common/primitives.js';

export const KeyStatus = z.enum(['active', 'revoked', 'expired']);
export type KeyStatus = z.infer<typeof KeyStatus>;

/** The key object of DESIGN §7, exactly as clients see it. It never holds the secret. */
export const KeyObject = z.strictObject({
  id: KeyId,
  accountId: AccountId,
  name: z.string(),
  environment: Environment,
  prefix: z.string(),
  last4: z.string(),
  permissions: z.array(z.string()),
  rateLimits: RateLimits,
  status: KeyStatus,
  createdAt: IsoTimestamp,
  expiresAt: IsoTimestamp.nullable(),
  revokedAt: IsoTimestamp.nullable(),
  lastUsedAt: IsoTimestamp.nullable(),
});
export type KeyObject = z.infer<typeof KeyObject>;

/** A lifecycle event as the audit query returns it. */
export const AuditEvent = z.strictObject({
  id: z.string(),
  type: z.string(),
  keyId: KeyId,
  accountId: AccountId,
  actor: z.string(),
  occurredAt: IsoTimestamp,
  data: z.record(z.string(), z.unknown()),
});
export type AuditEvent = z.infer<typeof AuditEvent>;
