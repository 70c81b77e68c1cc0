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
 * The top-level fields a receiver refused a message for not knowing, as the strict schema of an
 * older release names them (`Unrecognized key: "a"`, `Unrecognized keys: "a", "b"`, as `parse`
 * gives them); null for any other answer.
 */
function unknownFieldsNamed(error: ServiceError): string[] | null {
  if (error.status !== 400) return null;
  const named = /^Unrecognized keys?: ("[^"]*"(?:, "[^"]*")*)$/.exec(error.details);
  return named ? Array.from(named[1]!.matchAll(/"([^"]*)"/g), (match) => match[1]!) : null;
}

/**
 * Sends `message`, and once more without the `fields` the receiver refused it for not knowing:
 * during a rolling upgrade a sender of this release may reach a receiver of the one before,
 * whose strict schema answers 400 and did nothing. Only for fields whose absence changes nothing
 * the older receiver does (docs/conventions.md, Messages between releases). A refusal that names
 * any other field is passed on as it came.
 */
export async function sendDroppingUnknown<M extends object, K extends keyof M & string, T>(
  message: M,
  fields: K | readonly K[],
  send: (message: M | Omit<M, K>) => Promise<Reply<T>>,
): Promise<Reply<T>> {
  const reply = await send(message);
  if (reply.ok) return reply;
  const droppable: readonly string[] = (typeof fields === 'string' ? [fields] : fields).filter((field) => field in message);
  const named = unknownFieldsNamed(reply.error);
  if (named === null || !named.every((field) => droppable.includes(field))) return reply;
  const without: Partial<M> = { ...message };
  for (const field of named) delete without[field as K];
  return send(without as Omit<M, K>);
}
