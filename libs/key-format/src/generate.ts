import { DEFAULT_PREFIX, RANDOM_LENGTH, checksumFor, displayPrefixOf, isKeyEnvironment, isValidPrefix, last4Of, type KeyEnvironment } from './format.js';
import { hashKey } from './hash.js';
import { randomBase62 } from './random.js';

export interface GenerateKeyOptions {
  prefix?: string;
  environment: KeyEnvironment;
}

export interface GeneratedKey {
  /** The secret: hand it to the caller once and never store or log it. */
  key: string;
  environment: KeyEnvironment;
  prefix: string;
  displayPrefix: string;
  last4: string;
  hash: string;
}

/** Throws on a bad prefix or environment: those are configuration bugs, not user input. */
export function generateKey({ prefix = DEFAULT_PREFIX, environment }: GenerateKeyOptions): GeneratedKey {
  if (!isValidPrefix(prefix)) {
    throw new RangeError(`key prefix must be 1-16 lowercase letters or digits, got ${JSON.stringify(prefix)}`);
  }
  if (!isKeyEnvironment(environment)) {
    throw new RangeError(`key environment must be "live" or "test", got ${JSON.stringify(environment)}`);
  }
  const body = `${prefix}_${environment}_${randomBase62(RANDOM_LENGTH)}`;
  const key = body + checksumFor(body);
  return { key, environment, prefix, displayPrefix: displayPrefixOf(key), last4: last4Of(key), hash: hashKey(key) };
}
