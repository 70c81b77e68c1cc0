import { randomUUID } from 'node:crypto';

const SANE = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** The client's `X-Request-Id` when it is a plain token of at most 128 characters; otherwise a new one. */
export function requestIdFrom(header: string | string[] | undefined): string {
  return typeof header === 'string' && SANE.test(header) ? header : `req_${randomUUID()}`;
}
