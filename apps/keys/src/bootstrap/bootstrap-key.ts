import { fingerprint, parseKey, type KeyFingerprint } from '@keyplane/key-format';

/**
 * Checks BOOTSTRAP_ADMIN_KEY before anything starts. The error names the variable and the
 * reason, never the value: a malformed admin key is still most of a real secret.
 */
export function bootstrapKeyFingerprint(value: string | undefined, prefix: string): KeyFingerprint | undefined {
  if (value === undefined) return undefined;
  const parsed = parseKey(value, { prefix });
  if (!parsed.ok) throw new Error(`BOOTSTRAP_ADMIN_KEY is not a valid live API key: ${parsed.error.message}`);
  if (parsed.key.environment !== 'live') throw new Error('BOOTSTRAP_ADMIN_KEY is not a valid live API key: key environment must be "live"');
  return fingerprint(parsed.key.key);
}
