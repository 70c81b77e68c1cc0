import { negotiate } from './accept.js';

export const NDJSON = 'application/x-ndjson';

/**
 * Whether `Accept` prefers NDJSON to JSON (`negotiate`): by weight, then by the more specific
 * range (`*\/*, application/x-ndjson` is NDJSON), then by which the client named first. JSON
 * otherwise, also when neither is acceptable.
 */
export function wantsNdjson(accept: string | undefined): boolean {
  return negotiate(accept, ['application/json', NDJSON]) === NDJSON;
}

/** One JSON document per line; a batch becomes one chunk, so a page of events costs one write, not one per event. */
export async function* ndjsonChunks(batches: AsyncIterable<readonly unknown[]>): AsyncGenerator<string> {
  for await (const batch of batches) {
    if (batch.length > 0) yield batch.map((item) => `${JSON.stringify(item)}\n`).join('');
  }
}
