import { z } from 'zod';

/** The error half of every reply; the gateway turns it into the HTTP error body of DESIGN §6. */
export const ServiceError = z.object({
  status: z.union([z.literal(400), z.literal(401), z.literal(403), z.literal(404), z.literal(409), z.literal(429), z.literal(503)]),
  error: z.string(),
  details: z.string(),
});
export type ServiceError = z.infer<typeof ServiceError>;

const titles = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  429: 'Rate limit exceeded',
  503: 'Service Unavailable',
} as const;

export function serviceError(status: ServiceError['status'], details: string): ServiceError {
  return { status, error: titles[status], details };
}

export const badRequest = (details: string) => serviceError(400, details);
export const forbidden = (details: string) => serviceError(403, details);
export const notFound = (details: string) => serviceError(404, details);
export const conflict = (details: string) => serviceError(409, details);

/** Every request/reply message answers with this envelope, so errors cross NATS as data. */
export type Reply<T> = { ok: true; value: T } | { ok: false; error: ServiceError };

export const ok = <T>(value: T): Reply<T> => ({ ok: true, value });
export const fail = (error: ServiceError): Reply<never> => ({ ok: false, error });
