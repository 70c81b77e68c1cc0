import type { Decision, DecideRequest, UsageRecorded } from '@keyplane/contracts';
import type { KeyState } from '../key-view/key-view.js';
import { canonicalAddress } from './client-address.js';

export interface Decided {
  request: DecideRequest;
  decision: Decision;
  /** The key the hash matched, even when it was refused (revoked, expired, rotated out); null when unknown. */
  matched: KeyState | null;
  /** Epoch milliseconds of the decision. */
  at: number;
}

/**
 * The usage event of one decision (DESIGN §8). A refused secret of a known key still names
 * the key, so metering can count every request presented with it and spot a revoked key in
 * use; the quota fields are null unless a valid key was counted.
 */
export function usageRecorded(eventId: string, { request, decision, matched, at }: Decided): UsageRecorded {
  const { limits } = decision;
  return {
    type: 'UsageRecorded',
    version: 1,
    eventId,
    occurredAt: new Date(at).toISOString(),
    keyId: matched?.keyId ?? null,
    accountId: matched?.accountId ?? null,
    environment: matched?.environment ?? null,
    outcome: decision.outcome,
    reason: decision.reason,
    permission: request.permission,
    method: request.method,
    path: request.path,
    clientIp: canonicalAddress(request.clientIp),
    userAgent: request.userAgent,
    requestId: request.requestId,
    hourUsed: limits?.hour.used ?? null,
    dayUsed: limits?.day.used ?? null,
    hourLimit: limits?.hour.limit ?? null,
    dayLimit: limits?.day.limit ?? null,
  };
}
