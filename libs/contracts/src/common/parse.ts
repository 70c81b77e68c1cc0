import { z } from 'zod';
import { badRequest, type Reply, type ServiceError } from './errors.js';

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

/**
 * Whether a receiver refused a message only because it does not know its top-level `field`: what
 * the strict schema of an older release answers a newer sender's field (`parse` names an unknown
 * key so).
 */
export function refusedAsUnknown(error: ServiceError, field: string): boolean {
  return error.status === 400 && error.details === `Unrecognized key: ${JSON.stringify(field)}`;
}

/**
 * Sends `message`, and once more without `field` if the receiver refused it for not knowing that
 * field: during a rolling upgrade a sender of this release may reach a receiver of the one before,
 * whose strict schema answers 400 and did nothing. Only for a field whose absence changes nothing
 * the receiver does (docs/conventions.md, Messages between releases).
 */
export async function sendDroppingUnknown<M extends object, K extends keyof M & string, T>(
  message: M,
  field: K,
  send: (message: M | Omit<M, K>) => Promise<Reply<T>>,
): Promise<Reply<T>> {
  const reply = await send(message);
  if (reply.ok || !(field in message) || !refusedAsUnknown(reply.error, field)) return reply;
  const without: Partial<M> = { ...message };
  delete without[field];
  return send(without as Omit<M, K>);
}
