import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '@keyplane/observability';
import { errorBody } from '../responses/error-body.js';
import { sendJson } from './send-json.js';

const INVALID_MEDIA_TYPE = 'Content-Type is not a valid media type (type/subtype, e.g. application/json)';

/** Whatever fails inside a gateway route leaves as a JSON error: a client's fault as its 4xx, ours as a logged 500. */
export function jsonErrorHandler(logger: Logger, bodyLimitBytes: number) {
  return function handleError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
    const status = error.statusCode ?? 500;
    if (status === 413) return sendJson(reply, 413, errorBody(413, `Request body is larger than ${bodyLimitBytes} bytes`));
    // Every body is taken as bytes, so Fastify's only 415 is a header it cannot read as a media type; its text just repeats the title.
    if (status === 415) return sendJson(reply, 415, errorBody(415, INVALID_MEDIA_TYPE));
    if (status >= 400 && status < 500) return sendJson(reply, status, errorBody(status, error.message));
    logger.error({ err: error, requestId: request.gateway?.requestId, method: request.method }, 'request failed');
    return sendJson(reply, 500, errorBody(500, 'Unexpected error'));
  };
}
