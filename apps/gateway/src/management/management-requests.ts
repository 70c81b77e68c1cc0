import { z } from 'zod';
import { Cursor, Environment, IsoTimestamp, KEY_EVENT_TYPES, KeyName, KeyStatus, PermissionList, RateLimits, RevokeReason } from '@keyplane/contracts';
import { dateTimeParam, limitParam } from './query-params.js';

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
  from: dateTimeParam('up').optional(),
  // Exclusive: see auditEvents.
  to: dateTimeParam('up').optional(),
  limit: limitParam.optional(),
  cursor: Cursor.optional(),
});
