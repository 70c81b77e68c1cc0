import { parseKey } from '@keyplane/key-format';

const CREDENTIAL_PARAMS = new Set(['api_key', 'key', 'access_token']);

/**
 * True when the query string carries a credential-looking parameter, or a well-formed key of
 * this deployment under any name (`?apiKey=`, `?token=`, `?api_key[]=`): its checksum makes
 * that a key, never a coincidence. Keys in URLs end up in access logs, proxies and browser
 * history, so such a request is refused outright rather than authenticated by its header: the
 * client learns to stop at once.
 */
export function hasCredentialInQuery(url: string, keyPrefix: string): boolean {
  const start = url.indexOf('?');
  if (start < 0) return false;
  for (const [name, value] of new URLSearchParams(url.slice(start + 1))) {
    if (CREDENTIAL_PARAMS.has(name.toLowerCase()) || isKey(value, keyPrefix) || isKey(name, keyPrefix)) return true;
  }
  return false;
}

const isKey = (text: string, prefix: string) => text.startsWith(prefix) && parseKey(text, { prefix }).ok;
