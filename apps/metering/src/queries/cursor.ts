import { z } from 'zod';
import { decodeCursor, encodeCursor } from '@keyplane/contracts';

/** A position in a newest-first listing: the last item's time and id. Opaque to clients. */
export interface Position {
  at: string;
  id: string;
}

/**
 * Which listing a cursor belongs to. Both listings' positions are a time and an id, and so is
 * the keys list's, so without it a cursor of one would page another from a position that means
 * nothing there (docs/api.md: another endpoint's cursor is a 400).
 */
export type Listing = 'events' | 'alerts';

/**
 * What this service hands out: its listing, a time as `toISOString` writes one Postgres can
 * hold (years 0001–9999), and an id Postgres can compare (text holds no NUL).
 */
const shapeOf = (listing: Listing) =>
  z.tuple([
    z.literal(listing),
    z.iso.datetime({ precision: 3 }).refine((at) => !at.startsWith('0000-')),
    z
      .string()
      .min(1)
      .max(512)
      .refine((id) => !id.includes('\u0000')),
  ]);

const SHAPES: Record<Listing, ReturnType<typeof shapeOf>> = { events: shapeOf('events'), alerts: shapeOf('alerts') };

export function encodePosition(listing: Listing, position: Position): string {
  return encodeCursor([listing, position.at, position.id]);
}

/** The position, or null when the cursor is not one this service handed out for `listing`. */
export function decodePosition(listing: Listing, cursor: string): Position | null {
  const decoded = decodeCursor(cursor, SHAPES[listing]);
  return decoded && { at: decoded[1], id: decoded[2] };
}
