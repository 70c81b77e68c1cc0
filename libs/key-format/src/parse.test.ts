import fc from 'fast-check';
import { parseKey, type ParseResult } from './parse.js';

const VALID = 'tv_live_kMnoG1lguFLkHGXZJPgucWKnahVzbDeS00Fo9B';

function codeOf(result: ParseResult): string | undefined {
  return result.ok ? undefined : result.error.code;
}

describe('parseKey', () => {
  it.each([
    [undefined, 'not_a_string'],
    [null, 'not_a_string'],
    [42, 'not_a_string'],
    [{ toString: () => VALID }, 'not_a_string'],
    ['', 'empty'],
    ['x'.repeat(129), 'bad_length'],
    ['tvlivekMnoG1lguFLkHGXZJPgucWKnahVzbDeS00Fo9B', 'bad_shape'],
    ['tv_livekMnoG1lguFLkHGXZJPgucWKnahVzbDeS00Fo9B', 'bad_shape'],
    ['TV_live_kMnoG1lguFLkHGXZJPgucWKnahVzbDeS00Fo9B', 'wrong_prefix'],
    ['_live_kMnoG1lguFLkHGXZJPgucWKnahVzbDeS00Fo9B', 'wrong_prefix'],
    ['abcdefghijklmnopq_live_kMnoG1lguFLkHGXZJPgucWKnahVzbDeS00Fo9B', 'wrong_prefix'],
    ['tv_prod_kMnoG1lguFLkHGXZJPgucWKnahVzbDeS00Fo9B', 'unknown_environment'],
    ['tv_LIVE_kMnoG1lguFLkHGXZJPgucWKnahVzbDeS00Fo9B', 'unknown_environment'],
    ['tv_live_', 'bad_length'],
    ['tv_live_kMnoG1lguFLkHGXZJPgucWKnahVzbDe00Fo9B', 'bad_length'],
    ['tv_live_kMnoG1lguFLk-GXZJPgucWKnahVzbDeS00Fo9B', 'bad_character'],
    ['tv_live_kMnoG1lguFLk_GXZJPgucWKnahVzbDeS00Fo9B', 'bad_character'],
    ['tv_live_kMnoG1lguFLkHGXZJPgucWKnahVzbDeS00Fo9a', 'bad_checksum'],
  ])('rejects %p with %s', (input, code) => {
    const result = parseKey(input);
    expect(codeOf(result)).toBe(code);
    expect(result.ok === false && result.error.message.length).toBeGreaterThan(0);
  });

  it('accepts a valid key', () => {
    expect(parseKey(VALID).ok).toBe(true);
  });

  it('requires the given prefix when one is configured', () => {
    expect(parseKey(VALID, { prefix: 'tv' }).ok).toBe(true);
    expect(codeOf(parseKey(VALID, { prefix: 'sk' }))).toBe('wrong_prefix');
  });

  it('rejects over-long input before looking at its shape', () => {
    expect(codeOf(parseKey(VALID + '_'.repeat(200)))).toBe('bad_length');
    expect(codeOf(parseKey('a'.repeat(10_000_000)))).toBe('bad_length');
  });

  it('never echoes the input in its error message', () => {
    const typo = VALID.slice(0, -1) + 'a';
    const result = parseKey(typo);
    expect(result.ok === false && result.error.message).not.toContain(typo.slice(8, 20));
  });

  describe('never throws', () => {
    const check = (input: unknown) => {
      const result = parseKey(input);
      if (result.ok) {
        expect(typeof result.key.key).toBe('string');
      } else {
        expect(typeof result.error.code).toBe('string');
        expect(typeof result.error.message).toBe('string');
      }
    };

    it('for anything', () => fc.assert(fc.property(fc.anything({ withBigInt: true, withMap: true, withSet: true }), check)));
    it('for strings', () => fc.assert(fc.property(fc.string(), check)));
    // fast-check 4 dropped fullUnicodeString; unit 'binary' is its replacement (any code point).
    it('for full-unicode strings', () => fc.assert(fc.property(fc.string({ unit: 'binary' }), check)));
    it('for strings shaped like keys', () =>
      fc.assert(
        fc.property(fc.stringMatching(/^[a-z0-9]{0,17}_(live|test|prod)_[0-9A-Za-z_-]{0,45}$/), (s) => {
          check(s);
          expect(() => parseKey(s, { prefix: 'tv' })).not.toThrow();
        }),
      ));
  });
});
