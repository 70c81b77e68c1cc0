import { z } from 'zod';
import { AccountId, Cursor, IsoTimestamp, KeyId, PageLimit, RequestId } from '../common/primitives.js';
import { Outcome } from '../auth/decide.js';
import { AlertType } from '../alerts/alert.js';

// Queries to metering. The gateway has already checked with the keys service that the key
// belongs to the caller's account; metering scopes by account again on its own rows.

export const Granularity = z.enum(['hour', 'day']);
export type Granularity = z.infer<typeof Granularity>;

export const UsageWindowsRequest = z.strictObject({
  accountId: AccountId,
  requestId: RequestId.optional(),
  keyId: KeyId,
  granularity: Granularity,
  from: IsoTimestamp,
  to: IsoTimestamp,
});
export type UsageWindowsRequest = z.infer<typeof UsageWindowsRequest>;

export const UsageWindow = z.strictObject({
  start: IsoTimestamp,
  requests: z.number().int(),
  allowed: z.number().int(),
  forbidden: z.number().int(),
  rateLimited: z.number().int(),
  unauthorized: z.number().int(),
});
export type UsageWindow = z.infer<typeof UsageWindow>;

export interface UsageWindows {
  keyId: string;
  granularity: Granularity;
  data: UsageWindow[];
}

export const UsageEventsRequest = z.strictObject({
  accountId: AccountId,
  requestId: RequestId.optional(),
  keyId: KeyId,
  from: IsoTimestamp.optional(),
  to: IsoTimestamp.optional(),
  outcome: Outcome.optional(),
  limit: PageLimit.default(100),
  cursor: Cursor.optional(),
});
export type UsageEventsRequest = z.infer<typeof UsageEventsRequest>;

export const AlertsRequest = z.strictObject({
  accountId: AccountId,
  requestId: RequestId.optional(),
  keyId: KeyId.optional(),
  type: AlertType.optional(),
  since: IsoTimestamp.optional(),
  limit: PageLimit.default(100),
  cursor: Cursor.optional(),
});
export type AlertsRequest = z.infer<typeof AlertsRequest>;

export const LastUsedRequest = z.strictObject({
  accountId: AccountId,
  requestId: RequestId.optional(),
  keyIds: z.array(KeyId).max(1000),
});
export type LastUsedRequest = z.infer<typeof LastUsedRequest>;
/** keyId -> ISO time of the key's most recent request, for keys that have one. */
export type LastUsed = Record<string, string>;
