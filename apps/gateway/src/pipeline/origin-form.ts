import type { IncomingMessage } from 'node:http';

/**
 * Fastify's `rewriteUrl`: a request target in absolute form (`GET http://api.example.com/v1/flows`),
 * which a server must accept (RFC 9112 §3.2.2), is routed, authorized and forwarded by its path
 * and query like the usual origin form. The authority is left out: the `Host` header names it.
 */
export function originForm(request: IncomingMessage): string {
  const url = request.url ?? '/';
  if (url.startsWith('/') || !/^https?:\/\//i.test(url)) return url;
  const rest = url.slice(url.indexOf('//') + 2);
  const pathStart = rest.search(/[/?]/);
  if (pathStart < 0) return '/';
  return rest[pathStart] === '?' ? `/${rest.slice(pathStart)}` : rest.slice(pathStart);
}
