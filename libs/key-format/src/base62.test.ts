import fc from 'fast-check';
import { BASE62_ALPHABET, isBase62, toBase62 } from './base62.js';

describe('toBase62', () => {
  it('uses the alphabet 0-9A-Za-z in that order', () => {
    expect(BASE62_ALPHABET).toHaveLength(62);
    expect([0, 9, 10, 35, 36, 61].map((n) => toBase62(n))).toEqual(['0', '9', 'A', 'Z', 'a', 'z']);
    expect(toBase62(62)).toBe('10');
  });

  it('left-pads with 0 to the width', () => {
    expect(toBase62(0, 6)).toBe('000000');
    expect(toBase62(61, 3)).toBe('00z');
  });

  it('keeps every digit when the value is wider than the width', () => {
    expect(toBase62(62 ** 3, 2)).toBe('1000');
  });

  it('rejects negative, fractional and unsafe numbers', () => {
    for (const n of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
      expect(() => toBase62(n)).toThrow(RangeError);
    }
  });

  it('round-trips through positional decoding', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), (n) => {
        const decoded = [...toBase62(n, 6)].reduce((acc, ch) => acc * 62 + BASE62_ALPHABET.indexOf(ch), 0);
        expect(decoded).toBe(n);
      }),
    );
  });
});

describe('isBase62', () => {
  it('accepts only alphanumerics', () => {
    expect(isBase62(BASE62_ALPHABET)).toBe(true);
    for (const s of ['-', '_', ' ', 'é', 'a\n']) expect(isBase62(s)).toBe(false);
  });
});
