import { z } from 'zod';

/** A position in a newest-first listing: the last item's time and id. Opaque to clients. */
export interface Position {
  at: string;
  id: string;
}

/**
 * What this service hands out: a time as `toISOString` writes one Postgres can hold (years
 * 0001–9999), and an id Postgres can compare (text holds no NUL). Anything else is refused
 * here, so a tampered cursor is a 400, not a failed query.
 */
const Shape = z.tuple([
  z.iso.datetime({ precision: 3 }).refine((at) => !at.startsWith('0000-')),
  z
    .string()
    .min(1)
    .max(512)
    .refine((id) => !id.includes('\u0000')),
]);

export function encodeCursor(position: Position): string {
  return Buffer.from(JSON.stringify([position.at, position.id])).toString('base64url');
}

/** The position, or null when the cursor is not one this service handed out. */
export function decodeCursor(cursor: string): Position | null {
  try {
    const parsed = Shape.safeParse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    return parsed.success ? { at: parsed.data[0], id: parsed.data[1] } : null;
  } catch {
    return null;
  }
}
