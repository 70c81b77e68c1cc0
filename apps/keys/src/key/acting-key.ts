import { serviceError, type Actor, type Environment, type ServiceError } from '@keyplane/contracts';

/** The calling key as the keys service itself stores it, at the version the answer is decided on. */
export interface StoredActor {
  accountId: string;
  environment: Environment;
  permissions: string[];
  status: 'active' | 'revoked';
  expiresAt: string | null;
  version: number;
}

export type Acting = { ok: true; actor: Actor; version: number | null } | { ok: false; error: ServiceError };

/**
 * Who is really asking. The gateway's actor is auth's view of the key when it decided, which
 * trails a revocation or permission change by up to the propagation delay (250 ms): a key
 * revoked or narrowed in that window must not issue, rotate or re-grant with what it held
 * before. So a key this service stores acts as it stands now, and a revoked or expired one is
 * refused with auth's own 401. An actor that names no stored key comes from a trusted internal
 * caller (provisioning an account, tests): only the gateway, which sends stored keys, and such
 * callers may publish key commands, and they are taken at their word, as before.
 */
export function actingAs(claimed: Actor, stored: StoredActor | undefined, now: string): Acting {
  if (stored === undefined) return { ok: true, actor: claimed, version: null };
  // A key never changes account or environment: a claim that differs was not made by the gateway for this key.
  if (stored.accountId !== claimed.accountId || stored.environment !== claimed.environment) {
    return { ok: false, error: serviceError(401, 'Invalid or missing API key') };
  }
  if (stored.status === 'revoked') return { ok: false, error: serviceError(401, 'API key has been revoked') };
  if (stored.expiresAt !== null && Date.parse(stored.expiresAt) <= Date.parse(now)) {
    return { ok: false, error: serviceError(401, 'API key has expired') };
  }
  return { ok: true, actor: { ...claimed, permissions: stored.permissions }, version: stored.version };
}
