import { Catch, HttpException, Inject, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { STATUS_CODES } from 'node:http';
import type { Logger } from '@keyplane/observability';
import { StoreFull } from '../store/resource-store.js';
import { ApiError } from './api-error.js';
import { LOGGER } from './logger.token.js';

/** Every error leaves as DESIGN §6's `{"error", "details"}`, whoever raised it: a handler, Nest or Fastify's body parser. */
@Catch()
export class JsonErrorsFilter implements ExceptionFilter {
  constructor(@Inject(LOGGER) private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const { status, details } = this.describe(exception);
    void reply
      .code(status)
      .header('content-type', 'application/json')
      .send(JSON.stringify({ error: STATUS_CODES[status] ?? 'Error', details }));
  }

  private describe(exception: unknown): { status: number; details: string } {
    if (exception instanceof ApiError) return { status: exception.getStatus(), details: exception.details };
    if (exception instanceof StoreFull) return { status: 409, details: exception.message };
    // Nest wraps Fastify's body-parser errors in an HttpException and keeps the original as its cause.
    const cause = exception instanceof HttpException && exception.cause ? exception.cause : exception;
    const status = statusOf(cause);
    if (status && status < 500) return { status, details: clientErrorText(cause, status) };
    if (exception instanceof HttpException) return { status: exception.getStatus(), details: exception.message };
    this.logger.error({ err: exception }, 'unhandled error');
    return { status: 500, details: 'Unexpected error' };
  }
}

function statusOf(exception: unknown): number | undefined {
  if (typeof exception !== 'object' || !exception || !('statusCode' in exception)) return undefined;
  return typeof exception.statusCode === 'number' ? exception.statusCode : undefined;
}

// Fastify's own messages name internals (FST_ERR_...); clients get plain words.
function clientErrorText(exception: unknown, status: number): string {
  if (status === 413) return 'Request body is too large';
  if (status === 415) return 'Content-Type must be application/json';
  const code = typeof exception === 'object' && exception && 'code' in exception ? exception.code : undefined;
  if (code === 'FST_ERR_CTP_INVALID_JSON_BODY' || exception instanceof SyntaxError) return 'Request body is not valid JSON';
  if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return 'Request body is empty but Content-Type is application/json';
  return exception instanceof Error ? exception.message : (STATUS_CODES[status] ?? 'Bad request');
}
