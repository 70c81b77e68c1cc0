import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { errorBody } from '../responses/error-body.js';
import { sendJson } from './send-json.js';

/**
 * What still reaches Nest rather than the gateway's own routes (a request target that is not
 * a path, like `OPTIONS *`) leaves in the same JSON error shape.
 */
@Catch(HttpException)
export class JsonExceptionFilter implements ExceptionFilter {
  catch(exception: HttpException, host: ArgumentsHost): void {
    const status = exception.getStatus();
    void sendJson(host.switchToHttp().getResponse<FastifyReply>(), status, errorBody(status, exception.message));
  }
}
