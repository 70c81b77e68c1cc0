import { SecretFingerprint } from '@keyplane/contracts';
import { constantTimeEqualHex, fingerprint, hashKey } from './hash.js';

const KEY = 'tv_live_kMnoG1lguFLkHGXZJPgucWKnahVzbDeS00Fo9B';

describe('hashKey', () => {
  it('is lowercase SHA-256 hex', () => {
    expect(hashKey('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(hashKey(KEY)).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('fingerprint', () => {
  it('keeps only the hash, the first 12 and the last 4 characters', () => {
    expect(fingerprint(KEY)).toEqual({ secretHash: hashKey(KEY), displayPrefix: 'tv_live_kMno', last4: 'Fo9B' });
  });

  it('matches the SecretFingerprint contract exactly', () => {
    expect(SecretFingerprint.safeParse(fingerprint(KEY)).success).toBe(true);
  });
});

describe('constantTimeEqualHex', () => {
  const a = hashKey('a');

  it('is true for equal hex, in any case', () => {
    expect(constantTimeEqualHex(a, a)).toBe(true);
    expect(constantTimeEqualHex(a, a.toUpperCase())).toBe(true);
    expect(constantTimeEqualHex('', '')).toBe(true);
  });

  it('is false for different values or lengths', () => {
    expect(constantTimeEqualHex(a, hashKey('b'))).toBe(false);
    expect(constantTimeEqualHex(a, a.slice(2))).toBe(false);
  });

  it('is false rather than lenient for non-hex input', () => {
    // Buffer.from('zz', 'hex') and Buffer.from('yy', 'hex') are both empty.
    expect(constantTimeEqualHex('zz', 'yy')).toBe(false);
    expect(constantTimeEqualHex('abc', 'abc')).toBe(false);
    expect(constantTimeEqualHex(a, undefined as unknown as string)).toBe(false);
  });
});
