import type { KeyEvent } from '@keyplane/contracts';
import type { KeyDetails, KeyState } from './state.js';

export function evolve(state: KeyState, event: KeyEvent): KeyState {
  if (event.type === 'KeyIssued') {
    const { data } = event;
    return {
      status: 'active',
      id: event.keyId,
      accountId: event.accountId,
      name: data.name,
      environment: data.environment,
      permissions: data.permissions,
      rateLimits: data.rateLimits,
      expiresAt: data.expiresAt,
      secret: data.secret,
      previousSecretHash: null,
      previousKeyExpiresAt: null,
      createdAt: event.occurredAt,
    };
  }
  // Only a KeyIssued can start a stream; anything else on an absent key is ignored rather than invented.
  if (state.status === 'absent') return state;
  switch (event.type) {
    case 'KeySecretRotated':
      return patch(state, {
        secret: event.data.secret,
        previousSecretHash: event.data.previousSecretHash,
        previousKeyExpiresAt: event.data.previousKeyExpiresAt,
      });
    case 'KeyPermissionsChanged':
      return patch(state, { permissions: event.data.permissions });
    case 'KeyRateLimitsChanged':
      return patch(state, { rateLimits: event.data.rateLimits });
    case 'KeyRenamed':
      return patch(state, { name: event.data.name });
    case 'KeyRevoked':
      return { ...state, status: 'revoked', revokedAt: event.occurredAt };
  }
}

function patch<S extends KeyState & KeyDetails>(state: S, changes: Partial<KeyDetails>): S {
  return { ...state, ...changes };
}
