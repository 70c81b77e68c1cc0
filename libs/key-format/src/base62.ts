/** Digit order is part of the key format: changing it would invalidate every stored checksum. */
export const BASE62_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

const BASE62_PATTERN = /^[0-9A-Za-z]*$/;

export function isBase62(value: string): boolean {
  return BASE62_PATTERN.test(value);
}

/**
 * `width` is a minimum, like padStart: a value too large for it keeps all its digits rather
 * than being silently truncated into a different number.
 */
export function toBase62(n: number, width = 0): string {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new RangeError(`toBase62 expects a non-negative safe integer, got ${n}`);
  }
  let digits = '';
  let rest = n;
  do {
    digits = BASE62_ALPHABET[rest % 62] + digits;
    rest = Math.floor(rest / 62);
  } while (rest > 0);
  return digits.padStart(width, '0');
}
