import { decodePosition, encodePosition } from './cursor.js';

const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('cursor', () => {
  it('round-trips a position', () => {
    const position = { at: '2026-01-15T10:00:00.123Z', id: '01JABC' };
    expect(decodePosition('events', encodePosition('events', position))).toEqual(position);
    expect(decodePosition('alerts', encodePosition('alerts', position))).toEqual(position);
  });

  it('refuses what it did not hand out', () => {
    const notOurs = ['', 'not-base64!', cursorOf({}), cursorOf(['events', 'never', 'x']), cursorOf(['events', '2026-01-15T10:00:00Z', ''])];
    expect(notOurs.map((cursor) => decodePosition('events', cursor))).toEqual([null, null, null, null, null]);
  });

  it('refuses another listing’s cursor, and a bare time and id (the keys list hands those out)', () => {
    const position = { at: '2026-01-15T10:00:00.123Z', id: '01JABC' };
    expect(decodePosition('alerts', encodePosition('events', position))).toBeNull();
    expect(decodePosition('events', encodePosition('alerts', position))).toBeNull();
    expect(decodePosition('events', cursorOf([position.at, 'key_01JABCDEFGHJKMNPQRSTVWXYZ0']))).toBeNull();
  });

  it('refuses a time or id Postgres could not compare, so the query never fails on one', () => {
    expect(
      [
        cursorOf(['events', '2026-01-15T10:00:00.000Z', 'evt\u0000x']),
        cursorOf(['events', '-271821-04-20T00:00:00.000Z', '01J0000000000000000000ZZZZ']),
        cursorOf(['events', '0000-01-01T00:00:00.000Z', '01J0000000000000000000ZZZZ']),
        cursorOf(['events', '2026-01-15T10:00:00+01:00', '01JABC']),
        cursorOf(['events', '2026-01-15T10:00:00.000Z', 'x'.repeat(513)]),
      ].map((cursor) => decodePosition('events', cursor)),
    ).toEqual([null, null, null, null, null]);
    expect(decodePosition('events', cursorOf(['events', '0001-01-01T00:00:00.000Z', 'a']))).toEqual({ at: '0001-01-01T00:00:00.000Z', id: 'a' });
  });
});
