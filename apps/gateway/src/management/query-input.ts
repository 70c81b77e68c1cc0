import type { z } from 'zod';
import { describeIssue } from '@keyplane/contracts';

export type Checked<T> = { ok: true; value: T } | { ok: false; details: string };

/** A query string against a strict schema: the first problem named by its parameter, an unknown parameter named as such. */
export function checkQuery<S extends z.ZodType>(schema: S, query: unknown): Checked<z.infer<S>> {
  const result = schema.safeParse(query ?? {});
  if (result.success) return { ok: true, value: result.data };
  const issue = result.error.issues[0];
  if (issue?.code === 'unrecognized_keys') return { ok: false, details: `unknown query parameter "${issue.keys[0]}"` };
  return { ok: false, details: describeIssue(issue) };
}
