import { randomInt } from 'node:crypto';
import { BASE62_ALPHABET } from './base62.js';

/** randomInt rejection-samples internally, so every digit is uniform (no modulo bias). */
export function randomBase62(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) {
    out += BASE62_ALPHABET[randomInt(BASE62_ALPHABET.length)];
  }
  return out;
}
