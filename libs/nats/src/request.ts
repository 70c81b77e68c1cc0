import type { ClientProxy } from '@nestjs/microservices';
import { serviceError, type Reply } from '@keyplane/contracts';
import { firstValueFrom, timeout } from 'rxjs';

/**
 * Sends a request to a service and returns its Reply; a timeout or transport failure
 * becomes a 503 error, so callers fail closed without a try/catch of their own.
 */
export async function request<T>(
  client: ClientProxy,
  subject: string,
  payload: unknown,
  timeoutMs: number,
  unavailable = 'Service unavailable',
): Promise<Reply<T>> {
  try {
    return await firstValueFrom(client.send<Reply<T>>(subject, payload).pipe(timeout(timeoutMs)));
  } catch {
    return { ok: false, error: serviceError(503, unavailable) };
  }
}
