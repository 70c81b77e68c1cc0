import { z } from 'zod';
import { Cursor, Environment, IsoTimestamp, KEY_EVENT_TYPES, KeyName, KeyStatus, PermissionList, RateLimits, RevokeReason } from '@keyplane/contracts';
import { exactDateTimeParam } from './exact-instant.js';
import type { Checked } from './query-input.js';
import { limitParam, toMillisecond } from './query-params.js';

// The HTTP bodies and query strings of DESIGN §7, checked at the edge so a 400 names the
// field as the client wrote it, with the keys service's own bounds, so no body outgrows a NATS
// message. The keys service checks meaning (permissions, grants).

export const CreateKeyBody = z.strictObject({
  name: KeyName,
  environment: Environment.default('live'),
  permissions: PermissionList,
  rateLimits: RateLimits.partial().optional(),
  expiresAt: IsoTimestamp.nullable().optional(),
});

export const UpdateKeyBody = z.strictObject({
  name: KeyName.optional(),
  permissions: PermissionList.optional(),
  rateLimits: RateLimits.partial().optional(),
});

export const RotateKeyBody = z.strictObject({
  gracePeriodSeconds: z.number().int().min(0).max(30 * 24 * 3600).default(0),
});

export const RevokeKeyBody = z.strictObject({
  reason: RevokeReason.nullable().optional(),
});

export const ListKeysQuery = z.strictObject({
  environment: Environment.optional(),
  status: KeyStatus.optional(),
  limit: limitParam.optional(),
  cursor: Cursor.optional(),
});

export const AuditEventsQuery = z.strictObject({
  keyId: z.string().optional(),
  type: z.enum(KEY_EVENT_TYPES as [string, ...string[]]).optional(),
  from: exactDateTimeParam.optional(),
  // Exclusive: see auditEvents.
  to: exactDateTimeParam.optional(),
  limit: limitParam.optional(),
  cursor: Cursor.optional(),
});

/**
 * The audit range in the keys service's milliseconds, once its ends, as written, are known not
 * to run backwards: both rounded up, since `from` is inclusive and `to` exclusive, so no stored
 * time crosses either (`from=…00.0005Z` must not take an event at `…00.000Z`).
 */
export function auditRange<T extends { from?: string; to?: string }>(checked: Checked<T>): Checked<T> {
  if (!checked.ok) return checked;
  const { from, to } = checked.value;
  return { ok: true, value: { ...checked.value, ...(from !== undefined && { from: toMillisecond(from, 'up') }), ...(to !== undefined && { to: toMillisecond(to, 'up') }) } };
}
