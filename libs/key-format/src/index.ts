export { BASE62_ALPHABET, isBase62, toBase62 } from './base62.js';
export { crc32 } from './crc32.js';
export type { KeyFormatError, KeyFormatErrorCode } from './errors.js';
export {
  CHECKSUM_LENGTH,
  DEFAULT_PREFIX,
  DISPLAY_PREFIX_LENGTH,
  ENVIRONMENTS,
  MAX_KEY_LENGTH,
  RANDOM_LENGTH,
  LAST_LENGTH,
  isValidPrefix,
  keyShapedPattern,
  type KeyEnvironment,
} from './format.js';
export { generateKey, type GenerateKeyOptions, type GeneratedKey } from './generate.js';
export { constantTimeEqualHex, fingerprint, hashKey, type KeyFingerprint } from './hash.js';
export { parseKey, type ParseKeyOptions, type ParseResult, type ParsedKey } from './parse.js';
