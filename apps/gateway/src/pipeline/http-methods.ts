import { METHODS } from 'node:http';
import type { FastifyInstance } from 'fastify';

/**
 * Fastify routes a handful of methods by default; a request with any other method Node
 * accepts (PROPFIND, PURGE, M-SEARCH...) would miss every gateway route, skip authentication
 * and fall through to Nest's 404. Called before the routes exist, so `all` covers every method.
 * CONNECT never reaches Fastify (see `answerConnectWithJson`). Each may carry a body, so it
 * is read, within the limit, like a POST's.
 */
export function routeEveryHttpMethod(fastify: FastifyInstance): void {
  for (const method of METHODS) {
    if (method !== 'CONNECT' && !fastify.supportedMethods.includes(method)) fastify.addHttpMethod(method, { hasBody: true });
  }
}
