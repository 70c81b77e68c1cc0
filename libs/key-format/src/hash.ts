import { createHash, timingSafeEqual } from 'node:crypto';
import { displayPrefixOf, last4Of } from './format.js';

/** Same shape as `SecretFingerprint` in @keyplane/contracts: everything about a secret that may be stored or sent. */
export interface KeyFingerprint {
  secretHash: string;
  displayPrefix: string;
  last4: string;
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function fingerprint(key: string): KeyFingerprint {
  return { secretHash: hashKey(key), displayPrefix: displayPrefixOf(key), last4: last4Of(key) };
}

const HEX_PATTERN = /^(?:[0-9a-fA-F]{2})*$/;

/**
 * Compares decoded bytes, so case does not matter. Non-hex input is rejected up front because
 * Buffer.from(…, 'hex') would silently drop the invalid tail and could make unequal strings equal.
 */
export function constantTimeEqualHex(a: string, b: string): boolean {
  if (typeof a !== 'string' || typeof b !== 'string') return false;
  if (a.length !== b.length) return false;
  if (!HEX_PATTERN.test(a) || !HEX_PATTERN.test(b)) return false;
  return timingSafeEqual(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'));
}
