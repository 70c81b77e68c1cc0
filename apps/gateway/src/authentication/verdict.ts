import type { DecidedKey, Decision, DecisionReason, Outcome } from '@keyplane/contracts';
import { satisfies } from '@keyplane/permissions';
import { AUTH_UNAVAILABLE, errorBody, EXPIRED_KEY, INVALID_KEY, REVOKED_KEY } from '../responses/error-body.js';
import { rateLimitHeaders, retryAfterSeconds } from '../responses/rate-limit-headers.js';

export type Verdict =
  | { allowed: true; key: DecidedKey; headers: Record<string, string> }
  | { allowed: false; status: number; body: string; headers: Record<string, string> };

export const UNAUTHORIZED_HEADERS: Readonly<Record<string, string>> = { 'www-authenticate': 'Bearer' };

export const INVALID_KEY_BODY = errorBody(401, INVALID_KEY);

const UNAUTHORIZED_BODIES: Partial<Record<DecisionReason, string>> = {
  revoked: errorBody(401, REVOKED_KEY),
  expired: errorBody(401, EXPIRED_KEY),
};

const unavailable: Verdict = { allowed: false, status: 503, body: errorBody(503, AUTH_UNAVAILABLE), headers: {} };

/** The reasons auth gives with each outcome; any other pairing is a decision nobody made. */
const REASONS: Record<Outcome, readonly DecisionReason[]> = {
  allowed: ['ok'],
  forbidden: ['missing_permission'],
  rate_limited: ['hour_limit', 'day_limit'],
  unauthorized: ['unknown_key', 'revoked', 'expired', 'rotated_out'],
};

/**
 * What the gateway answers for auth's decision on a route needing `permission` (DESIGN §5, §6).
 * A decision that contradicts itself is treated like no decision: the gateway fails closed.
 * That includes letting through a key whose own permissions do not cover the route: what is
 * proxied must be what the decision's key may do, whatever answered on `auth.decide`.
 */
export function verdictFor(decision: Decision, permission: string | null, nowSeconds: number): Verdict {
  const { outcome, reason, key, limits } = decision;
  if (!REASONS[outcome].includes(reason)) return unavailable;
  if (outcome === 'unauthorized') {
    // A rotated-out secret answers like an unknown key: it tells a holder of an old secret nothing.
    return { allowed: false, status: 401, body: UNAUTHORIZED_BODIES[reason] ?? INVALID_KEY_BODY, headers: UNAUTHORIZED_HEADERS };
  }
  if (!limits) return unavailable;
  const headers = rateLimitHeaders(limits, nowSeconds);
  switch (outcome) {
    case 'allowed':
      return key && (permission === null || satisfies(key.permissions, permission)) ? { allowed: true, key, headers } : unavailable;
    case 'forbidden':
      return { allowed: false, status: 403, body: errorBody(403, `Missing required permission: ${permission ?? ''}`), headers };
    case 'rate_limited': {
      const window = reason === 'day_limit' ? 'day' : 'hour';
      headers['retry-after'] = String(retryAfterSeconds(limits, window, nowSeconds));
      const details =
        window === 'day' ? `Daily limit of ${limits.day.limit} requests reached` : `Hourly limit of ${limits.hour.limit} requests reached`;
      return { allowed: false, status: 429, body: errorBody(429, details), headers };
    }
  }
}
