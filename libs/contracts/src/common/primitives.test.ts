import { IsoTimestamp, StorableText } from './primitives.js';

describe('IsoTimestamp', () => {
  it('takes any offset whose instant falls in the years 0001–9999 UTC', () => {
    for (const value of ['2026-11-26T10:00:00Z', '2026-11-26T11:00:00.123+01:00', '0001-01-01T00:00:00Z', '9999-12-31T23:59:59.999Z']) {
      expect(IsoTimestamp.safeParse(value).success).toBe(true);
    }
  });

  it('refuses an instant a store could not hold, and an endless fraction', () => {
    for (const value of ['9999-12-31T23:59:59-23:59', '0000-12-31T23:59:59Z', '0001-01-01T00:00:00+01:00', `2026-11-26T10:00:00.${'0'.repeat(60)}Z`]) {
      expect(IsoTimestamp.safeParse(value).success).toBe(false);
    }
    expect(IsoTimestamp.safeParse('9999-12-31T23:59:59-23:59').error?.issues[0]?.message).toBe('must be between the years 0001 and 9999 UTC');
  });
});

describe('StorableText', () => {
  it('takes any well-formed text, astral characters included', () => {
    for (const value of ['', 'CI deploy', 'clé 🔑', '\u00e9\ud83d\ude00']) expect(StorableText.safeParse(value).success).toBe(true);
  });

  it('refuses what Postgres text and jsonb cannot store: NUL and unpaired surrogates', () => {
    for (const value of ['a\u0000b', 'a\ud800b', 'a\udc00', '\ud83d']) {
      expect(StorableText.safeParse(value).error?.issues[0]?.message).toBe('must not contain NUL or unpaired surrogate characters');
    }
  });
});
