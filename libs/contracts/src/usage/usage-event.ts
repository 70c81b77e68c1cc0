import { z } from 'zod';
import { AccountId, Environment, IsoTimestamp, KeyId } from '../common/primitives.js';
import { DecisionReason, Outcome } from '../auth/decide.js';

const Count = z.number().int().nonnegative();

/**
 * One per authorization decision (DESIGN §8), v1. A key's account and environment come with
 * the key: an event naming one without the others would be counted in windows no account can
 * read.
 */
export const UsageRecorded = z
  .strictObject({
    type: z.literal('UsageRecorded'),
    version: z.literal(1),
    eventId: z.string().min(1),
    occurredAt: IsoTimestamp,
    keyId: KeyId.nullable(),
    accountId: AccountId.nullable(),
    environment: Environment.nullable(),
    outcome: Outcome,
    reason: DecisionReason,
    permission: z.string().nullable(),
    method: z.string(),
    path: z.string(),
    clientIp: z.string(),
    userAgent: z.string().nullable(),
    requestId: z.string(),
    /** Quota used in each window after this decision; null when no valid key was involved. */
    hourUsed: Count.nullable(),
    dayUsed: Count.nullable(),
    hourLimit: Count.nullable(),
    dayLimit: Count.nullable(),
  })
  .superRefine((event, ctx) => {
    for (const field of ['accountId', 'environment'] as const) {
      if ((event[field] === null) !== (event.keyId === null)) ctx.addIssue({ code: 'custom', path: [field], message: 'must be null exactly when keyId is null' });
    }
  });
export type UsageRecorded = z.infer<typeof UsageRecorded>;

/**
 * What a consumer reads first, to tell an unknown type or version from a malformed event. A type
 * is a name like `UsageRecorded`: anything else is no event, and is never logged or stored as a
 * type (it could be any text a sender put there, a secret included).
 */
export const EventHeader = z.object({ type: z.string().regex(/^[A-Z][A-Za-z0-9]{0,63}$/, 'expected an event type name like UsageRecorded'), version: z.number().int() });
