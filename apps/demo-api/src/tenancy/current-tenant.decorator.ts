import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { badRequest } from '../http/api-error.js';
import { readTenant, type Tenant } from './tenant.js';

export const CurrentTenant = createParamDecorator((_data: unknown, context: ExecutionContext): Tenant => {
  const result = readTenant(context.switchToHttp().getRequest<FastifyRequest>().headers);
  if (!result.ok) throw badRequest(result.details);
  return result.tenant;
});
