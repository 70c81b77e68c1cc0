import type { KeyLookup, KeyState } from '../key-view/key-view.js';

export type Rejection = 'unknown_key' | 'revoked' | 'expired' | 'rotated_out';

export type Admission = { ok: true; key: KeyState } | { ok: false; reason: Rejection };

/**
 * Whether a presented secret belongs to a usable key, before any quota is touched: a request
 * turned away here counts against nothing.
 */
export function admit(found: KeyLookup | null, now: number): Admission {
  if (!found) return { ok: false, reason: 'unknown_key' };
  // First: a rotated-out secret answers like an unknown key (DESIGN §6), so its holder learns
  // nothing of what became of the key afterwards (revoked, expired).
  if (found.rotatedOut) return { ok: false, reason: 'rotated_out' };
  const { key } = found;
  if (key.revoked) return { ok: false, reason: 'revoked' };
  if (key.expiresAt !== null && now >= key.expiresAt) return { ok: false, reason: 'expired' };
  return { ok: true, key };
}
