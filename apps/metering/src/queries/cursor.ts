import { z } from 'zod';
import { decodeCursor, encodeCursor } from '@keyplane/contracts';

/** A position in a newest-first listing: the last item's time and id. Opaque to clients. */
export interface Position {
  at: string;
  id: string;
}

/**
 * What this service hands out: a time as `toISOString` writes one Postgres can hold (years
 * 0001–9999), and an id Postgres can compare (text holds no NUL).
 */
const Shape = z.tuple([
  z.iso.datetime({ precision: 3 }).refine((at) => !at.startsWith('0000-')),
  z
    .string()
    .min(1)
    .max(512)
    .refine((id) => !id.includes('\u0000')),
]);

export function encodePosition(position: Position): string {
  return encodeCursor([position.at, position.id]);
}

/** The position, or null when the cursor is not one this service handed out. */
export function decodePosition(cursor: string): Position | null {
  const decoded = decodeCursor(cursor, Shape);
  return decoded && { at: decoded[0], id: decoded[1] };
}
