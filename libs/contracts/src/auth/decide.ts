import { z } from 'zod';
import { AccountId, Environment, KeyId, RequestId, Sha256Hex, StorableText } from '../common/primitives.js';

// auth.decide: the gateway asks on every request; it sends the key's hash, never the key.

// Every string is bounded, so the usage event a decision publishes always fits a NATS message,
// and storable, so metering can keep what auth counted (Postgres text holds no NUL).
export const DecideRequest = z.strictObject({
  keyHash: Sha256Hex,
  /**
   * The route's required permission, one of the catalog's (auth answers 400 to any other); null for
   * a path outside the route table (authenticate and count only).
   */
  permission: StorableText.max(64).nullable(),
  method: StorableText.min(1).max(16),
  path: StorableText.max(8192),
  clientIp: StorableText.max(64),
  userAgent: StorableText.max(1024).nullable(),
  requestId: RequestId,
});
export type DecideRequest = z.infer<typeof DecideRequest>;

export const Outcome = z.enum(['allowed', 'forbidden', 'rate_limited', 'unauthorized']);
export type Outcome = z.infer<typeof Outcome>;

/** Why: `ok`, `unknown_key`, `revoked`, `expired`, `rotated_out`, `hour_limit`, `day_limit`, `missing_permission`. */
export const DecisionReason = z.enum([
  'ok',
  'unknown_key',
  'revoked',
  'expired',
  'rotated_out',
  'hour_limit',
  'day_limit',
  'missing_permission',
]);
export type DecisionReason = z.infer<typeof DecisionReason>;

export const WindowState = z.strictObject({
  limit: z.number().int(),
  used: z.number().int(),
  remaining: z.number().int(),
  /** Unix seconds when the window ends. */
  resetAt: z.number().int(),
});
export type WindowState = z.infer<typeof WindowState>;

export const LimitState = z.strictObject({ hour: WindowState, day: WindowState });
export type LimitState = z.infer<typeof LimitState>;

export const DecidedKey = z.strictObject({
  keyId: KeyId,
  accountId: AccountId,
  environment: Environment,
  permissions: z.array(z.string()),
});
export type DecidedKey = z.infer<typeof DecidedKey>;

export const Decision = z.strictObject({
  outcome: Outcome,
  reason: DecisionReason,
  /** Null when the hash matched no key, or matched a key that is no longer valid. */
  key: DecidedKey.nullable(),
  /** Present whenever the key is valid and active (allowed, forbidden, rate_limited). */
  limits: LimitState.nullable(),
});
export type Decision = z.infer<typeof Decision>;
