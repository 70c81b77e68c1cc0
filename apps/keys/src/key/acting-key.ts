import { badRequest, forbidden, serviceError, type Actor, type Environment, type Recheck, type ServiceError } from '@keyplane/contracts';
import { constantTimeEqualHex } from '@keyplane/key-format';
import { isPermission, satisfies } from '@keyplane/permissions';

/** The calling key as the keys service itself stores it, at the version the answer is decided on. */
export interface StoredActor {
  accountId: string;
  environment: Environment;
  permissions: string[];
  status: 'active' | 'revoked';
  expiresAt: string | null;
  version: number;
  secretHash: string;
  /** The secret the last rotation replaced, which authenticates until previousKeyExpiresAt. */
  previousSecretHash: string | null;
  previousKeyExpiresAt: string | null;
}

export type Acting = { ok: true; actor: Actor; version: number | null } | { ok: false; error: ServiceError };

// DESIGN §6: a rotated-out secret answers like an unknown key.
const UNKNOWN_KEY = serviceError(401, 'Invalid or missing API key');

/**
 * Who is really asking. The gateway's actor is auth's view of the key when it decided, which
 * trails a rotation, revocation or permission change by up to the propagation delay (250 ms):
 * a key rotated out, revoked or narrowed in that window must not issue, rotate or re-grant with
 * what it held before. So a key this service stores acts as it stands now: a secret it no longer
 * takes, or a revoked or expired key, is refused with auth's own 401, and a route's permission it
 * no longer holds with the gateway's own 403. A message without `recheck` (an older gateway
 * during a rollout, an internal caller) is judged by the key's status and permissions alone, as
 * before. An actor that names no stored key comes from a trusted internal caller (provisioning
 * an account, tests): only the gateway, which sends stored keys, and such callers may publish
 * key commands, and they are taken at their word, as before.
 */
export function actingAs(claimed: Actor, recheck: Recheck | undefined, stored: StoredActor | undefined, now: string): Acting {
  // Whatever the caller: a misspelt permission would be met by `*`, as auth refuses it in auth.decide.
  if (recheck?.permission != null && !isPermission(recheck.permission)) {
    return { ok: false, error: badRequest(`recheck.permission: unknown permission ${JSON.stringify(recheck.permission)}`) };
  }
  if (stored === undefined) return { ok: true, actor: claimed, version: null };
  // A key never changes account or environment: a claim that differs was not made by the gateway for this key.
  if (stored.accountId !== claimed.accountId || stored.environment !== claimed.environment) return { ok: false, error: UNKNOWN_KEY };
  // First, as auth does: the holder of a rotated-out secret learns nothing of what became of the key since.
  if (recheck !== undefined && !takesSecret(stored, recheck.keyHash, now)) return { ok: false, error: UNKNOWN_KEY };
  if (stored.status === 'revoked') return { ok: false, error: serviceError(401, 'API key has been revoked') };
  if (stored.expiresAt !== null && Date.parse(stored.expiresAt) <= Date.parse(now)) {
    return { ok: false, error: serviceError(401, 'API key has expired') };
  }
  if (recheck?.permission != null && !satisfies(stored.permissions, recheck.permission)) {
    return { ok: false, error: forbidden(`Missing required permission: ${recheck.permission}`) };
  }
  return { ok: true, actor: { ...claimed, permissions: stored.permissions }, version: stored.version };
}

/**
 * Whether `keyHash` is the key's current secret, or the one its last rotation replaced while that
 * one's grace period runs. Both are compared in constant time (timingSafeEqual), whichever matches.
 */
function takesSecret(stored: StoredActor, keyHash: string, now: string): boolean {
  const current = constantTimeEqualHex(stored.secretHash, keyHash);
  const previous = stored.previousSecretHash !== null && constantTimeEqualHex(stored.previousSecretHash, keyHash);
  const inGrace = stored.previousKeyExpiresAt !== null && Date.parse(now) < Date.parse(stored.previousKeyExpiresAt);
  return current || (previous && inGrace);
}
