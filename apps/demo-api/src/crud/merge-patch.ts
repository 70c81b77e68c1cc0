import { z } from 'zod';

/**
 * PATCH's body, as JSON Merge Patch (RFC 7396) reads it: any subset of the fields, each replaced
 * whole, and `null` removes an optional field (`{"description": null}`). A required field cannot
 * be removed, so `null` for it is a 400 like any other wrong type.
 */
export function mergePatchSchema(fields: z.ZodObject): z.ZodObject {
  const shape = Object.fromEntries(
    Object.entries(fields.shape).map(([name, field]) => [name, field instanceof z.ZodOptional ? z.optional(z.nullable(field.unwrap())) : z.optional(field)]),
  );
  return z.strictObject(shape);
}

/** `current` with `changes` applied: a field set to `null` is removed, the others replaced. */
export function applyMergePatch<T extends object>(current: T, changes: Record<string, unknown>): T {
  const next = { ...current } as Record<string, unknown>;
  for (const [name, value] of Object.entries(changes)) {
    if (value === null) delete next[name];
    else next[name] = value;
  }
  return next as T;
}
