import { decodePosition, encodePosition } from './cursor.js';

const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('cursor', () => {
  it('round-trips a position', () => {
    const position = { at: '2026-01-15T10:00:00.123Z', id: '01JABC' };
    expect(decodePosition(encodePosition(position))).toEqual(position);
  });

  it('refuses what it did not hand out', () => {
    expect(['', 'not-base64!', cursorOf({}), cursorOf(['never', 'x']), cursorOf(['2026-01-15T10:00:00Z', ''])].map(decodePosition)).toEqual([null, null, null, null, null]);
  });

  it('refuses a time or id Postgres could not compare, so the query never fails on one', () => {
    expect(
      [
        cursorOf(['2026-01-15T10:00:00.000Z', 'evt\u0000x']),
        cursorOf(['-271821-04-20T00:00:00.000Z', '01J0000000000000000000ZZZZ']),
        cursorOf(['0000-01-01T00:00:00.000Z', '01J0000000000000000000ZZZZ']),
        cursorOf(['2026-01-15T10:00:00+01:00', '01JABC']),
        cursorOf(['2026-01-15T10:00:00.000Z', 'x'.repeat(513)]),
      ].map(decodePosition),
    ).toEqual([null, null, null, null, null]);
    expect(decodePosition(cursorOf(['0001-01-01T00:00:00.000Z', 'a']))).toEqual({ at: '0001-01-01T00:00:00.000Z', id: 'a' });
  });
});
