import { fail, parse, serviceError, type Reply } from '@keyplane/contracts';
import type { Logger } from '@keyplane/observability';
import type { z } from 'zod';
import type { ResultLabel } from '../metrics/keys-metrics.js';

/** A keys message's schema: every one may name the HTTP request it serves, which failures log. */
export type KeysMessageSchema = z.ZodType<{ requestId?: string }>;

export interface HandleMessageOptions<S extends KeysMessageSchema> {
  /** Names the message in logs and metrics: `issue`, `list`... */
  name: string;
  schema: S;
  payload: unknown;
  logger: Logger;
  record: (result: ResultLabel) => void;
}

/**
 * The edge of every handler: validate first (a bad message gets a 400 naming the field),
 * and turn an unexpected failure into a 503 reply rather than a crash or a silent timeout.
 * Payloads are never logged: a request could carry anything a client put in it. Only its
 * `requestId` is, the gateway's `X-Request-Id`, so the line can be found from the client's answer.
 */
export async function handleMessage<S extends KeysMessageSchema, T>(
  { name, schema, payload, logger, record }: HandleMessageOptions<S>,
  work: (request: z.infer<S>) => Promise<Reply<T>>,
): Promise<Reply<T>> {
  const parsed = parse(schema, payload);
  if (!parsed.ok) {
    record('400');
    return fail(parsed.error);
  }
  try {
    const reply = await work(parsed.value);
    record(reply.ok ? 'ok' : `${reply.error.status}`);
    // Its own 503s (not made in time; stored but not yet on the stream) are the ones an operator traces.
    if (!reply.ok && reply.error.status === 503) logger.warn({ handler: name, requestId: parsed.value.requestId, details: reply.error.details }, 'key message answered 503');
    return reply;
  } catch (error) {
    logger.error({ err: error, handler: name, requestId: parsed.value.requestId }, 'key message failed');
    record('503');
    return fail(serviceError(503, 'Keys service unavailable'));
  }
}
