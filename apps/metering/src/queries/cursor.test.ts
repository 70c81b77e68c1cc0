import { decodeCursor, encodeCursor } from './cursor.js';

describe('cursor', () => {
  it('round-trips a position', () => {
    const position = { at: '2026-01-15T10:00:00.123Z', id: '01JABC' };
    expect(decodeCursor(encodeCursor(position))).toEqual(position);
  });

  it('refuses what it did not hand out', () => {
    expect(['', 'not-base64!', Buffer.from('{}').toString('base64url'), Buffer.from('["never", "x"]').toString('base64url'), Buffer.from('["2026-01-15T10:00:00Z", ""]').toString('base64url')].map(decodeCursor)).toEqual([
      null,
      null,
      null,
      null,
      null,
    ]);
  });
});
