import { toBase62 } from './base62.js';
import { crc32 } from './crc32.js';

export const DEFAULT_PREFIX = 'tv';
export const ENVIRONMENTS = ['live', 'test'] as const;
export type KeyEnvironment = (typeof ENVIRONMENTS)[number];

export const RANDOM_LENGTH = 32;
// 62^6 > 2^32, so six digits always hold a CRC-32.
export const CHECKSUM_LENGTH = 6;
export const DISPLAY_PREFIX_LENGTH = 12;
export const LAST_LENGTH = 4;
// The longest valid key is 16 + 1 + 4 + 1 + 38 = 60; anything past this bound is not worth parsing.
export const MAX_KEY_LENGTH = 128;

const PREFIX_PATTERN = /^[a-z0-9]{1,16}$/;

export function isValidPrefix(prefix: string): boolean {
  return PREFIX_PATTERN.test(prefix);
}

/**
 * Text shaped like a key, found anywhere in a longer text, checksum unchecked (a mistyped key is
 * still most of a secret): of `prefix`, or of any valid prefix when none is given. For keeping
 * keys out of places a client may paste them into by mistake.
 */
export function keyShapedPattern(prefix?: string, flags = ''): RegExp {
  const head = prefix ?? '[a-z0-9]{1,16}';
  return new RegExp(`${head}_(?:${ENVIRONMENTS.join('|')})_[0-9A-Za-z]{${RANDOM_LENGTH + CHECKSUM_LENGTH}}`, flags);
}

export function isKeyEnvironment(value: string): value is KeyEnvironment {
  return (ENVIRONMENTS as readonly string[]).includes(value);
}

/** The checksum covers prefix and environment too, so moving a key between them is detected. */
export function checksumFor(keyWithoutChecksum: string): string {
  return toBase62(crc32(keyWithoutChecksum), CHECKSUM_LENGTH);
}

export function displayPrefixOf(key: string): string {
  return key.slice(0, DISPLAY_PREFIX_LENGTH);
}

export function last4Of(key: string): string {
  return key.slice(-LAST_LENGTH);
}
