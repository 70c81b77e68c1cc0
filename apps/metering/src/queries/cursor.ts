/** A position in a newest-first listing: the last item's time and id. Opaque to clients. */
export interface Position {
  at: string;
  id: string;
}

export function encodeCursor(position: Position): string {
  return Buffer.from(JSON.stringify([position.at, position.id])).toString('base64url');
}

/** The position, or null when the cursor is not one this service handed out. */
export function decodeCursor(cursor: string): Position | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (!Array.isArray(value) || value.length !== 2) return null;
    const [at, id] = value as unknown[];
    if (typeof at !== 'string' || typeof id !== 'string' || id === '' || Number.isNaN(Date.parse(at))) return null;
    return { at: new Date(at).toISOString(), id };
  } catch {
    return null;
  }
}
