import { z } from 'zod';

export const Environment = z.enum(['live', 'test']);
export type Environment = z.infer<typeof Environment>;

export const KeyId = z.string().regex(/^key_[0-9A-HJKMNP-TV-Z]{26}$/, 'expected a key id like key_01J...');
export const AccountId = z.string().regex(/^acc_[A-Za-z0-9_]{1,64}$/, 'expected an account id like acc_...');
export const IsoTimestamp = z.iso.datetime({ offset: true });
export const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'expected a SHA-256 hash in lowercase hex');

export const RateLimits = z.strictObject({
  hour: z.number().int().positive().max(1_000_000_000),
  day: z.number().int().positive().max(1_000_000_000),
});
export type RateLimits = z.infer<typeof RateLimits>;

export const DEFAULT_RATE_LIMITS: RateLimits = { hour: 1000, day: 10000 };

/** The key that asked for a command, as the gateway's authorization decision established it. */
export const Actor = z.strictObject({
  keyId: KeyId,
  accountId: AccountId,
  environment: Environment,
  permissions: z.array(z.string()),
});
export type Actor = z.infer<typeof Actor>;

/** Lifecycle events name who caused them: a key id, or `system` (bootstrap, expiry). */
export const ActorRef = z.union([KeyId, z.literal('system')]);
export type ActorRef = z.infer<typeof ActorRef>;

export const PageLimit = z.number().int().min(1).max(1000);
export const Cursor = z.string().min(1).max(512);

export const Page = <T extends z.ZodType>(item: T) =>
  z.object({ data: z.array(item), nextCursor: z.string().nullable() });
