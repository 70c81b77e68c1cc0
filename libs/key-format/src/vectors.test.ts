import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { toBase62 } from './base62.js';
import { crc32 } from './crc32.js';
import { parseKey } from './parse.js';

interface ValidVector {
  key: string;
  prefix: string;
  environment: string;
  random: string;
  checksum: string;
  crc32: number;
  displayPrefix: string;
  last4: string;
}
interface InvalidVector {
  key: string;
  why: string;
}

// A copy of shared/vectors/key-format.json (DESIGN §3), kept in the repo so a clone is self-contained.
const vectorsPath = fileURLToPath(new URL('../vectors/key-format.json', import.meta.url));
if (!existsSync(vectorsPath)) throw new Error(`key-format vectors not found at ${vectorsPath}`);
const vectors = JSON.parse(readFileSync(vectorsPath, 'utf8')) as { valid: ValidVector[]; invalid: InvalidVector[] };

describe('key-format vectors', () => {
  it('loads a non-trivial vector file', () => {
    expect(vectors.valid.length).toBeGreaterThan(0);
    expect(vectors.invalid.length).toBeGreaterThan(0);
  });

  describe.each(vectors.valid)('valid $key', (v) => {
    it('parses with the expected parts', () => {
      const result = parseKey(v.key);
      expect(result).toEqual({
        ok: true,
        key: {
          key: v.key,
          prefix: v.prefix,
          environment: v.environment,
          random: v.random,
          checksum: v.checksum,
          displayPrefix: v.displayPrefix,
          last4: v.last4,
        },
      });
    });

    it('has the expected CRC-32 and base62 checksum', () => {
      const body = `${v.prefix}_${v.environment}_${v.random}`;
      expect(crc32(body)).toBe(v.crc32);
      expect(toBase62(v.crc32, 6)).toBe(v.checksum);
    });

    it('parses when its own prefix is required', () => {
      expect(parseKey(v.key, { prefix: v.prefix }).ok).toBe(true);
    });
  });

  // The vector file states reasons in prose; pinning the code catches a key rejected for the wrong reason.
  const expectedCode: Record<string, string> = {
    empty: 'empty',
    'no random part': 'bad_length',
    'checksum changed': 'bad_checksum',
    'random changed, checksum kept': 'bad_checksum',
    'unknown environment': 'unknown_environment',
    'environment changed, checksum kept': 'bad_checksum',
    'one character short': 'bad_length',
    'one character long': 'bad_length',
    'character outside base62': 'bad_character',
    'leading space': 'wrong_prefix',
    'case changed': 'bad_checksum',
  };

  it.each(vectors.invalid)('rejects $key ($why)', ({ key, why }) => {
    const result = parseKey(key);
    expect(result.ok).toBe(false);
    if (!result.ok && why in expectedCode) expect(result.error.code).toBe(expectedCode[why]);
  });

  it('rejects the sk vector when the tv prefix is required', () => {
    const sk = vectors.valid.find((v) => v.prefix !== 'tv');
    expect(sk).toBeDefined();
    const result = parseKey(sk!.key, { prefix: 'tv' });
    expect(result.ok === false && result.error.code).toBe('wrong_prefix');
  });
});
