import { z } from 'zod';
import { decodeCursor, encodeCursor } from './cursor.js';

const shape = z.tuple([z.string(), z.number()]);

describe('cursors', () => {
  it('round-trips a position through an opaque url-safe string', () => {
    const cursor = encodeCursor(['2026-11-26T10:00:00.000Z', 42]);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor, shape)).toEqual(['2026-11-26T10:00:00.000Z', 42]);
  });

  it('reads anything else as no cursor at all', () => {
    expect(decodeCursor('not a cursor', shape)).toBeNull();
    expect(decodeCursor(encodeCursor(['x']), shape)).toBeNull();
    expect(decodeCursor(Buffer.from('{').toString('base64url'), shape)).toBeNull();
  });
});
