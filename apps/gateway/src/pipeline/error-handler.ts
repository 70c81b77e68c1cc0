import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '@keyplane/observability';
import { errorBody } from '../responses/error-body.js';
import { sendJson } from './send-json.js';

/** Whatever fails inside a gateway route leaves as a JSON error: a client's fault as its 4xx, ours as a logged 500. */
export function jsonErrorHandler(logger: Logger, bodyLimitBytes: number) {
  return function handleError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
    const status = error.statusCode ?? 500;
    if (status === 413) return sendJson(reply, 413, errorBody(413, `Request body is larger than ${bodyLimitBytes} bytes`));
    if (status >= 400 && status < 500) return sendJson(reply, status, errorBody(status, error.message));
    logger.error({ err: error, requestId: request.gateway?.requestId, method: request.method }, 'request failed');
    return sendJson(reply, 500, errorBody(500, 'Unexpected error'));
  };
}
