import { z } from 'zod';

const MAX_DEPTH = 32;

/** Whether `value` nests objects or arrays more than `levels` deep; stops looking at that depth. */
function deeperThan(value: unknown, levels: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (levels === 0) return true;
  return Object.values(value).some((child) => deeperThan(child, levels - 1));
}

/**
 * Free-form JSON a client stores (a record's `data`, a run's `input`), nested at most 32 deep:
 * a few thousand levels would be stored and then fail to serialize, breaking every list it
 * appears in.
 */
export const JsonObject = z.record(z.string(), z.unknown()).refine((value) => !deeperThan(value, MAX_DEPTH), `must be at most ${MAX_DEPTH} levels deep`);
