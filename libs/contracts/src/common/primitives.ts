import { z } from 'zod';

export const Environment = z.enum(['live', 'test']);
export type Environment = z.infer<typeof Environment>;

export const KeyId = z.string().regex(/^key_[0-9A-HJKMNP-TV-Z]{26}$/, 'expected a key id like key_01J...');
export const AccountId = z.string().regex(/^acc_[A-Za-z0-9_]{1,64}$/, 'expected an account id like acc_...');

/** Earliest and latest instants Postgres and `toISOString` both write as a four-digit year. */
const EARLIEST_MS = Date.parse('0001-01-01T00:00:00.000Z');
const LATEST_MS = Date.parse('9999-12-31T23:59:59.999Z');

export const STORABLE_INSTANT = 'must be between the years 0001 and 9999 UTC';

export function isStorableInstant(isoDateTime: string): boolean {
  const ms = Date.parse(isoDateTime);
  return ms >= EARLIEST_MS && ms <= LATEST_MS;
}

/**
 * An ISO 8601 date-time with its offset, of an instant in the years 0001–9999 UTC: one with
 * an offset can fall outside them (`9999-12-31T23:59:59-23:59`), and such a time would be
 * refused by the store after it was accepted here.
 */
export const IsoTimestamp = z.iso.datetime({ offset: true }).max(64).refine(isStorableInstant, STORABLE_INSTANT);

/**
 * Text a person wrote (a name, a reason), as Postgres can store it: `text` and `jsonb` refuse
 * the NUL character and unpaired UTF-16 surrogates, which JSON can carry.
 */
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
export const StorableText = z.string().refine((value) => !UNSTORABLE.test(value), 'must not contain NUL or unpaired surrogate characters');

export const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'expected a SHA-256 hash in lowercase hex');

export const RateLimits = z.strictObject({
  hour: z.number().int().positive().max(1_000_000_000),
  day: z.number().int().positive().max(1_000_000_000),
});
export type RateLimits = z.infer<typeof RateLimits>;

export const DEFAULT_RATE_LIMITS: RateLimits = { hour: 1000, day: 10000 };

/**
 * The key that asked for a command, as the gateway's authorization decision established it.
 * What the keys service checks that decision against (the presented secret's hash, the route's
 * permission) travels beside it, in a key message's `recheck`: see `Recheck` in key-messages.ts.
 */
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

/**
 * The HTTP request a message serves (the gateway's `X-Request-Id`), bounded and storable: auth
 * records it in the usage event; keys and metering put it on every line they write about the
 * message, so each can be found from the client's answer.
 */
export const RequestId = StorableText.min(1).max(128, 'must be at most 128 characters');
