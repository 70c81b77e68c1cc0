import type { z } from 'zod';
import { describeIssue } from '@keyplane/contracts';
import { badRequest } from './api-error.js';

/**
 * Validates a request body; the 400 names the first bad field, e.g. `name: Too small`. No body
 * means every field's default; JSON that is no object (`null`, `[]`) is refused.
 */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const result = schema.safeParse(body === undefined ? {} : body);
  if (!result.success) throw badRequest(describeIssue(result.error.issues[0]));
  return result.data;
}
