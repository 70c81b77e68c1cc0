import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { frameworkErrorDetails } from '@keyplane/runtime';
import { errorBody } from '../responses/error-body.js';
import { requestIdFrom } from '../responses/request-id.js';
import { sendJson } from './send-json.js';

/**
 * Fastify's `frameworkErrors`: what its router refuses before any hook runs, which for the
 * gateway is a path whose percent-encoding does not decode (`/v1/flows/%zz`). Left to Fastify,
 * that answer has its own body (`statusCode`, `code`, `message`) and no `X-Request-Id`.
 */
export function answerFrameworkErrorsWithJson(counted: (status: number) => void) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    const status = error.statusCode ?? 500;
    void sendJson(reply.header('x-request-id', requestIdFrom(request.headers['x-request-id'])), status, errorBody(status, frameworkErrorDetails(error)));
    // Fastify runs no onResponse hook for an answer its router gives.
    counted(status);
  };
}
