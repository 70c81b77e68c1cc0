import fc from 'fast-check';
import { BASE62_ALPHABET } from './base62.js';
import { generateKey } from './generate.js';
import { hashKey } from './hash.js';
import { type KeyEnvironment } from './format.js';
import { parseKey } from './parse.js';

const environment = fc.constantFrom<KeyEnvironment>('live', 'test');
const prefix = fc.stringMatching(/^[a-z0-9]{1,16}$/);

describe('generateKey', () => {
  it('generates 46-character tv keys that parse to what was generated', () => {
    fc.assert(
      fc.property(environment, (env) => {
        const generated = generateKey({ environment: env });
        expect(generated.key).toHaveLength(46);
        expect(generated.key.startsWith(`tv_${env}_`)).toBe(true);
        expect(generated).toMatchObject({ prefix: 'tv', environment: env });
        expect(generated.displayPrefix).toBe(generated.key.slice(0, 12));
        expect(generated.last4).toBe(generated.key.slice(-4));
        expect(generated.hash).toBe(hashKey(generated.key));

        const parsed = parseKey(generated.key, { prefix: 'tv' });
        expect(parsed.ok && parsed.key).toMatchObject({
          key: generated.key,
          environment: env,
          displayPrefix: generated.displayPrefix,
          last4: generated.last4,
        });
      }),
    );
  });

  it('honours any valid prefix', () => {
    fc.assert(
      fc.property(prefix, environment, (p, env) => {
        const { key } = generateKey({ prefix: p, environment: env });
        expect(key).toHaveLength(p.length + env.length + 2 + 38);
        expect(parseKey(key, { prefix: p }).ok).toBe(true);
        expect(parseKey(key).ok).toBe(true);
      }),
    );
  });

  it('rejects any single-character substitution', () => {
    const anyChar = fc.oneof(fc.constantFrom(...BASE62_ALPHABET, '_', '-', ' '), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }));
    fc.assert(
      fc.property(environment, fc.nat(45), anyChar, (env, position, replacement) => {
        const { key } = generateKey({ environment: env });
        fc.pre(key[position] !== replacement);
        const tampered = key.slice(0, position) + replacement + key.slice(position + 1);
        expect(parseKey(tampered).ok).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects every substitution at every position of one key', () => {
    const { key } = generateKey({ environment: 'live' });
    for (let i = 0; i < key.length; i++) {
      for (const ch of BASE62_ALPHABET + '_') {
        if (ch === key[i]) continue;
        expect(parseKey(key.slice(0, i) + ch + key.slice(i + 1)).ok).toBe(false);
      }
    }
  });

  it('draws every base62 digit', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) {
      for (const ch of generateKey({ environment: 'test' }).key.slice(8, 40)) seen.add(ch);
    }
    expect(seen.size).toBe(62);
  });

  it('does not repeat itself', () => {
    const keys = new Set(Array.from({ length: 1000 }, () => generateKey({ environment: 'live' }).key));
    expect(keys.size).toBe(1000);
  });

  it('throws on a malformed prefix or environment', () => {
    for (const p of ['', 'TV', 't_v', 'a'.repeat(17)]) {
      expect(() => generateKey({ prefix: p, environment: 'live' })).toThrow(RangeError);
    }
    expect(() => generateKey({ environment: 'prod' as KeyEnvironment })).toThrow(RangeError);
  });
});
