const CREDENTIAL_PARAMS = new Set(['api_key', 'key', 'access_token']);

/**
 * True when the query string carries a credential-looking parameter. Keys in URLs end up in
 * access logs, proxies and browser history, so such a request is refused outright rather
 * than authenticated by its header: the client learns to stop at once.
 */
export function hasCredentialInQuery(url: string): boolean {
  const start = url.indexOf('?');
  if (start < 0) return false;
  for (const name of new URLSearchParams(url.slice(start + 1)).keys()) {
    if (CREDENTIAL_PARAMS.has(name.toLowerCase())) return true;
  }
  return false;
}
