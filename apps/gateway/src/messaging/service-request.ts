import type { ClientProxy } from '@nestjs/microservices';
import { serviceError, type Reply } from '@keyplane/contracts';
import { request } from '@keyplane/nats';

/**
 * A request to another service that always ends in a `Reply`: no answer within `timeoutMs`,
 * no responder, or an answer that is not a `Reply` envelope becomes a 503 with `unavailable`.
 * Whatever answers on the subject is outside our process, so the envelope is checked before it is trusted.
 */
export async function serviceRequest<T>(client: ClientProxy, subject: string, body: unknown, timeoutMs: number, unavailable: string): Promise<Reply<T>> {
  const reply = await request<T>(client, subject, body, timeoutMs, unavailable);
  if (reply && typeof reply === 'object' && (reply.ok === true || (reply.ok === false && typeof reply.error?.status === 'number'))) return reply;
  return { ok: false, error: serviceError(503, unavailable) };
}
