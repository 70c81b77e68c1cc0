import type { z } from 'zod';

// Cursors are opaque to clients: the position of the last item of a page, as base64url JSON.
// Each service decodes only the shape it hands out, so anything else is a 400, not a failed query.

export function encodeCursor(position: readonly unknown[]): string {
  return Buffer.from(JSON.stringify(position), 'utf8').toString('base64url');
}

/** The decoded position, or null when the cursor was not made by encodeCursor with this shape. */
export function decodeCursor<S extends z.ZodType>(cursor: string, shape: S): z.infer<S> | null {
  try {
    const parsed = shape.safeParse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
