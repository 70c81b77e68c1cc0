import type { KeyObject, KeyStatus } from '@keyplane/contracts';
import type { IssuedKeyState } from './state.js';

/** Expiry needs no event: an active key whose expiresAt has passed simply reads as expired. */
export function effectiveStatus(status: 'active' | 'revoked', expiresAt: string | null, now: string): KeyStatus {
  if (status === 'revoked') return 'revoked';
  return expiresAt !== null && Date.parse(expiresAt) <= Date.parse(now) ? 'expired' : 'active';
}

export function toKeyObject(state: IssuedKeyState, now: string): KeyObject {
  return {
    id: state.id,
    accountId: state.accountId,
    name: state.name,
    environment: state.environment,
    prefix: state.secret.displayPrefix,
    last4: state.secret.last4,
    permissions: state.permissions,
    rateLimits: state.rateLimits,
    status: effectiveStatus(state.status, state.expiresAt, now),
    createdAt: state.createdAt,
    expiresAt: state.expiresAt,
    revokedAt: state.status === 'revoked' ? state.revokedAt : null,
    // Filled in by the gateway from metering; the keys service does not see traffic.
    lastUsedAt: null,
  };
}
