import type { Decision, DecidedKey } from '@keyplane/contracts';
import { satisfies } from '@keyplane/permissions';
import type { KeyState } from '../key-view/key-view.js';
import { limitState } from '../quota/windows.js';
import type { Rejection } from './admit.js';

/** What the shared counter answered: usage of both windows after this request, and whether it was counted. */
export interface QuotaResult {
  admitted: boolean;
  hourUsed: number;
  dayUsed: number;
}

export function unauthorized(reason: Rejection): Decision {
  return { outcome: 'unauthorized', reason, key: null, limits: null };
}

/**
 * The decision for an admitted key once its quota was consumed. A null permission is a path
 * outside the route table: the key only has to be valid (and is counted).
 */
export function decideAdmitted(key: KeyState, quota: QuotaResult, permission: string | null, now: number): Decision {
  const limits = limitState(key.rateLimits, { hour: quota.hourUsed, day: quota.dayUsed }, now);
  const decided = decidedKey(key);
  if (!quota.admitted) {
    // With both windows full no request passes before the day resets: the day is named, and the
    // gateway's Retry-After follows it (its X-RateLimit-* still follow the binding-window rule).
    const reason = quota.dayUsed >= key.rateLimits.day ? 'day_limit' : 'hour_limit';
    return { outcome: 'rate_limited', reason, key: decided, limits };
  }
  if (permission !== null && !satisfies(key.permissions, permission)) {
    return { outcome: 'forbidden', reason: 'missing_permission', key: decided, limits };
  }
  return { outcome: 'allowed', reason: 'ok', key: decided, limits };
}

function decidedKey(key: KeyState): DecidedKey {
  return { keyId: key.keyId, accountId: key.accountId, environment: key.environment, permissions: [...key.permissions] };
}
