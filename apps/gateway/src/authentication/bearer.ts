/**
 * The credential of `Authorization: Bearer <key>`: the scheme in any case, exactly one space,
 * then a token with no whitespace. Anything else is no credential at all, so the caller
 * answers 401 without guessing what was meant.
 */
export function bearerToken(header: string | undefined): string | null {
  if (header === undefined || header.length < 8) return null;
  if (header.charCodeAt(6) !== 32 || header.slice(0, 6).toLowerCase() !== 'bearer') return null;
  const token = header.slice(7);
  return token.length > 0 && !/\s/.test(token) ? token : null;
}
