import { z } from 'zod';
import { badRequest, type ServiceError } from './errors.js';

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: ServiceError };

/** Validates a message at the receiving edge; the first problem is named by its path, e.g. `permissions[1]: expected string`. */
export function parse<S extends z.ZodType>(schema: S, input: unknown): Parsed<z.infer<S>> {
  const result = schema.safeParse(input);
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, error: badRequest(describeIssue(result.error.issues[0])) };
}

/** Long enough for any field name and message of ours; what a sender made up (an unknown key) is cut, so an answer always fits a NATS message. */
const MAX_DETAILS = 300;

export function describeIssue(issue: z.core.$ZodIssue | undefined): string {
  if (!issue) return 'invalid message';
  const where = formatPath(issue.path);
  const details = where ? `${where}: ${issue.message}` : issue.message;
  return details.length > MAX_DETAILS ? `${details.slice(0, MAX_DETAILS)}...` : details;
}

export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, part) => {
    if (typeof part === 'number') return `${out}[${part}]`;
    return out ? `${out}.${String(part)}` : String(part);
  }, '');
}
