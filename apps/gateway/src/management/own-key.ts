import { failed, type Caller, type JsonAnswer } from './management-call.js';
import type { KeysClient } from './keys-client.js';

/**
 * Metering keeps no key ownership of its own, so a key's usage, events and alerts are read
 * only after the keys service confirmed the key is the caller's; a key's audit trail too, so
 * that every filter by key answers alike. Null when it is; otherwise the keys service's
 * answer, so another account's key reads exactly like a missing one (404).
 */
export async function notOwnKey(keys: KeysClient, caller: Caller, keyId: string): Promise<JsonAnswer | null> {
  const reply = await keys.get(caller, { keyId });
  return reply.ok ? null : failed(reply.error);
}
