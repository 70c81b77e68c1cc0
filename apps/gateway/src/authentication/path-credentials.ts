import { parseKey } from '@keyplane/key-format';

/**
 * True when a segment of the path, percent-decoded, is a well-formed key of this deployment
 * (`/v1/api-keys/tv_live_…`). Such a request is refused like a key in the query string, before
 * it is authenticated: a path is forwarded to the upstream and lands in every access log on the
 * way, as a query string does, and the checksum tells a key from an id that looks like one.
 */
export function hasKeyInPath(path: string, keyPrefix: string): boolean {
  if (!path.includes(`${keyPrefix}_`) && !path.includes('%')) return false;
  return path.split('/').some((segment) => {
    const text = decoded(segment);
    return text.startsWith(keyPrefix) && parseKey(text, { prefix: keyPrefix }).ok;
  });
}

/** A malformed escape was answered 400 before any hook; the segment is then read as written. */
function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
