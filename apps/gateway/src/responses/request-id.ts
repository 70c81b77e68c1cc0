import { randomUUID } from 'node:crypto';
import { keyShapedPattern } from '@keyplane/key-format';

const SANE = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** An API key of any deployment's prefix, anywhere in the id. */
const KEY_SHAPED = keyShapedPattern();

/**
 * The client's `X-Request-Id` when it is a plain token of at most 128 characters; otherwise a
 * new one. An id holding a key is replaced too: the id goes to the upstream, back to the client
 * and into usage events, and a client that pasted its key there would spread it to every log.
 */
export function requestIdFrom(header: string | string[] | undefined): string {
  return typeof header === 'string' && SANE.test(header) && !KEY_SHAPED.test(header) ? header : `req_${randomUUID()}`;
}
