import { decodeJson, encodeJson } from './codec.js';

describe('encodeJson / decodeJson', () => {
  it('round-trips a JSON value as UTF-8 bytes', () => {
    const value = { keyId: 'key_1', permissions: ['keys:read'], n: 3, note: 'ünïcødé ✓', nested: { ok: true, none: null } };

    const bytes = encodeJson(value);

    expect(new TextDecoder().decode(bytes)).toBe(JSON.stringify(value));
    expect(decodeJson(bytes)).toEqual(value);
  });

  it.each([
    ['plain text', 'not json'],
    ['truncated JSON', '{"keyId":"key_1"'],
    ['an empty payload', ''],
  ])('decodes %s as undefined', (_what, text) => {
    expect(decodeJson(new TextEncoder().encode(text))).toBeUndefined();
  });

  it('decodes JSON scalars as themselves', () => {
    expect(decodeJson(encodeJson(42))).toBe(42);
    expect(decodeJson(encodeJson('text'))).toBe('text');
    expect(decodeJson(encodeJson(null))).toBeNull();
  });
});
