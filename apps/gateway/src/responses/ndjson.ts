/** True when the `Accept` header lists `application/x-ndjson` (with any parameters, unless `q=0`). */
export function wantsNdjson(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  return accept.split(',').some((range) => {
    const [type = '', ...params] = range.split(';');
    return type.trim().toLowerCase() === NDJSON && !params.some((param) => /^\s*q\s*=\s*0(\.0{0,3})?\s*$/i.test(param));
  });
}

export const NDJSON = 'application/x-ndjson';

/** One JSON document per line; a batch becomes one chunk, so a page of events costs one write, not one per event. */
export async function* ndjsonChunks(batches: AsyncIterable<readonly unknown[]>): AsyncGenerator<string> {
  for await (const batch of batches) {
    if (batch.length > 0) yield batch.map((item) => `${JSON.stringify(item)}\n`).join('');
  }
}
