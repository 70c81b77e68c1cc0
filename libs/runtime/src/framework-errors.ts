import type { FastifyError } from 'fastify';

export const MALFORMED_PERCENT_ENCODING = 'The request path holds a malformed percent-encoding';

/**
 * The details of an error Fastify's router raises before any hook or filter runs (for the
 * services' `frameworkErrors`), in words for the client: its own message names a Fastify code.
 */
export function frameworkErrorDetails(error: FastifyError): string {
  return error.code === 'FST_ERR_BAD_URL' ? MALFORMED_PERCENT_ENCODING : error.message;
}
