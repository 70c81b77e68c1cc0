import { randomFillSync } from 'node:crypto';
import { ulid } from 'ulid';

const pool = new Uint8Array(4096);
let next = pool.length;

/** CSPRNG bytes handed out from a buffer refilled in bulk, as fractions in [0, 1). */
function pooledRandom(): number {
  if (next === pool.length) {
    randomFillSync(pool);
    next = 0;
  }
  return pool[next++] / 256;
}

/**
 * A ULID for ids made on a hot path (one usage event per decision): the ulid package asks the
 * CSPRNG once per character, 16 native calls an id; this asks once per 256 ids.
 */
export const newUlid = (): string => ulid(undefined, pooledRandom);
