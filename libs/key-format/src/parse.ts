import { isBase62 } from './base62.js';
import { keyFormatError, type KeyFormatError } from './errors.js';
import {
  CHECKSUM_LENGTH,
  MAX_KEY_LENGTH,
  RANDOM_LENGTH,
  checksumFor,
  displayPrefixOf,
  isKeyEnvironment,
  isValidPrefix,
  last4Of,
  type KeyEnvironment,
} from './format.js';

export interface ParsedKey {
  key: string;
  prefix: string;
  environment: KeyEnvironment;
  random: string;
  checksum: string;
  displayPrefix: string;
  last4: string;
}

export type ParseResult = { ok: true; key: ParsedKey } | { ok: false; error: KeyFormatError };

export interface ParseKeyOptions {
  /** Omit to accept any well-formed prefix, e.g. while keys of an older prefix are still live. */
  prefix?: string;
}

const fail = (...args: Parameters<typeof keyFormatError>): ParseResult => ({ ok: false, error: keyFormatError(...args) });

/**
 * Never throws: it runs on untrusted request headers, so every failure is a typed result.
 * Messages never echo the input, which may be a real secret with a typo in it.
 */
export function parseKey(input: unknown, options: ParseKeyOptions = {}): ParseResult {
  if (typeof input !== 'string') return fail('not_a_string', 'key must be a string');
  if (input.length === 0) return fail('empty', 'key is empty');
  if (input.length > MAX_KEY_LENGTH) return fail('bad_length', `key is longer than ${MAX_KEY_LENGTH} characters`);

  const first = input.indexOf('_');
  const second = first < 0 ? -1 : input.indexOf('_', first + 1);
  if (second < 0) return fail('bad_shape', 'key must look like {prefix}_{environment}_{secret}');

  const prefix = input.slice(0, first);
  const environment = input.slice(first + 1, second);
  const body = input.slice(second + 1);

  const expected = options?.prefix;
  if (expected !== undefined ? prefix !== expected : !isValidPrefix(prefix)) {
    return fail('wrong_prefix', expected !== undefined ? `key prefix must be "${expected}"` : 'key prefix must be 1-16 lowercase letters or digits');
  }
  if (!isKeyEnvironment(environment)) return fail('unknown_environment', 'key environment must be "live" or "test"');
  if (body.length !== RANDOM_LENGTH + CHECKSUM_LENGTH) {
    return fail('bad_length', `key must have ${RANDOM_LENGTH + CHECKSUM_LENGTH} characters after the environment`);
  }
  if (!isBase62(body)) return fail('bad_character', 'key contains a character outside 0-9A-Za-z');

  const random = body.slice(0, RANDOM_LENGTH);
  const checksum = body.slice(RANDOM_LENGTH);
  // The checksum is public information, so an ordinary comparison leaks nothing.
  if (checksumFor(input.slice(0, -CHECKSUM_LENGTH)) !== checksum) return fail('bad_checksum', 'key checksum does not match');

  return {
    ok: true,
    key: { key: input, prefix, environment, random, checksum, displayPrefix: displayPrefixOf(input), last4: last4Of(input) },
  };
}
