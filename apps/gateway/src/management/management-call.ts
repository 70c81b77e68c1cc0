import type { Actor, Recheck, Reply, ServiceError } from '@keyplane/contracts';

/** A management request as the gateway hands it to its handler, after authorization. */
export interface ManagementCall {
  /** The calling key, as auth's decision established it. */
  actor: Actor;
  /**
   * What auth decided on (the presented key's hash, the route's permission), sent with every
   * message to keys, which checks it against the calling key as it stores it now.
   */
  recheck: Recheck;
  /** The request's `X-Request-Id`, sent with every message to keys and metering, which log it with any failure. */
  requestId: string;
  params: Record<string, string>;
  query: unknown;
  /** The parsed JSON body; undefined when the request had none. */
  body: unknown;
  /** The request's `Accept` header: usage events are streamed as NDJSON when it asks for them. */
  accept: string | undefined;
}

/** Who asks, and for which HTTP request: what every message to keys carries (metering takes the account and request id). */
export type Caller = Pick<ManagementCall, 'actor' | 'recheck' | 'requestId'>;

/** A message to keys or metering as the gateway sends it: always naming its request, which the contracts leave optional. */
export type Traced<T extends { requestId?: string }> = T & { requestId: string };

export interface JsonAnswer {
  status: number;
  body: unknown;
}

/** 200 as `application/x-ndjson`: one JSON line per item, each batch written as soon as it is produced. */
export interface NdjsonAnswer {
  status: 200;
  ndjson: AsyncIterable<readonly unknown[]>;
}

export type ManagementAnswer = JsonAnswer | NdjsonAnswer;

/** The keys and metering services' errors are already the HTTP errors of DESIGN §6. */
export const failed = ({ status, error, details }: ServiceError): JsonAnswer => ({ status, body: { error, details } });

export function answer<T>(reply: Reply<T>, status: number, shape: (value: T) => unknown): JsonAnswer {
  return reply.ok ? { status, body: shape(reply.value) } : failed(reply.error);
}
